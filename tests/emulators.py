"""The emulators now live in the product (`bridge.sandbox.emulators`); tests import them here.

Every submodule is aliased too, so `tests.emulators._server` and friends are the same objects
(at run time; for mypy, import submodules from `bridge.sandbox.emulators`).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

from bridge.sandbox import emulators as _package
from bridge.sandbox.emulators import *  # noqa: F403
from bridge.sandbox.emulators import __all__ as __all__

for _info in pkgutil.iter_modules(_package.__path__):
    sys.modules[f"{__name__}.{_info.name}"] = importlib.import_module(
        f"{_package.__name__}.{_info.name}"
    )
