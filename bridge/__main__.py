"""`python -m bridge` is the `smsbridge` command."""

from __future__ import annotations

import sys

from bridge.cli import main

sys.exit(main())
