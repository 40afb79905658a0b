"""Slack files: the external upload flow (files_upload_v2), files.info, url_private downloads."""

from __future__ import annotations

import copy
import json
import mimetypes
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bridge.sandbox.emulators._server import Response
from bridge.sandbox.emulators._slack_store import Message, SlackError

Params = dict[str, Any]
UPLOAD_PREFIX = "/upload/v1/"
FILES_PREFIX = "/files-pri/"


def _file_id() -> str:
    return "F" + secrets.token_hex(5).upper()


class SlackFilesMixin:
    """Mixed into SlackEmulator, which provides the lock, token, identity and message store."""

    if TYPE_CHECKING:
        token: str
        team_id: str
        bot_user_id: str
        bot_id: str
        app_id: str
        _lock: Any

        @property
        def origin(self) -> str:
            """Provided by EmulatorServer."""

        def _channel(self, params: Params, member: bool = True) -> str:
            """Provided by SlackWebApi."""

        def _store_message(
            self, channel: str, fields: Message, thread_ts: str | None, broadcast: bool
        ) -> Message:
            """Provided by SlackWebApi."""

    def _init_files(self) -> None:
        self.files: dict[str, dict[str, Any]] = {}
        self._file_bytes: dict[str, bytes] = {}
        # upload token -> file ID, between getUploadURLExternal and completeUploadExternal
        self._uploads: dict[str, str] = {}
        self._upload_meta: dict[str, dict[str, Any]] = {}

    def _file_routes(self) -> dict[str, Callable[[Params], dict[str, Any]]]:
        return {
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
            "files.info": self._files_info,
        }

    # -- Web API methods -----------------------------------------------------------------------

    def _get_upload_url(self, params: Params) -> dict[str, Any]:
        filename = str(params.get("filename") or "")
        length = str(params.get("length") or "")
        if not filename or not length.isdecimal() or int(length) < 1:
            raise SlackError("invalid_arguments")
        file_id, upload = _file_id(), secrets.token_urlsafe(16)
        self._uploads[upload] = file_id
        self._upload_meta[file_id] = {"filename": filename, "length": int(length)}
        return {
            "ok": True,
            "upload_url": f"{self.origin}{UPLOAD_PREFIX}{upload}",
            "file_id": file_id,
        }

    def _complete_upload(self, params: Params) -> dict[str, Any]:
        try:
            listed = json.loads(str(params.get("files") or ""))
        except json.JSONDecodeError:
            raise SlackError("invalid_arguments") from None
        if not isinstance(listed, list) or not listed:
            raise SlackError("invalid_arguments")
        channel = str(params.get("channel_id") or "")
        if channel:
            self._channel({"channel": channel})
        made = []
        for entry in listed:
            file_id = str(entry.get("id") or "")
            meta = self._upload_meta.get(file_id)
            if meta is None or file_id not in self._file_bytes:
                raise SlackError("file_not_found")
            title = str(entry.get("title") or meta["filename"])
            made.append(self._make_file(file_id, meta["filename"], title, self.bot_user_id))
        if channel:
            fields: Message = {
                "user": self.bot_user_id,
                "team": self.team_id,
                "text": str(params.get("initial_comment") or ""),
                "files": copy.deepcopy(made),
                "upload": True,
                "display_as_bot": False,
            }
            thread_ts = str(params.get("thread_ts") or "") or None
            self._store_message(channel, fields, thread_ts, False)
        return {"ok": True, "files": [{"id": f["id"], "title": f["title"]} for f in made]}

    def _files_info(self, params: Params) -> dict[str, Any]:
        found = self.files.get(str(params.get("file") or ""))
        if found is None:
            raise SlackError("file_not_found")
        return {"ok": True, "file": copy.deepcopy(found), "comments": [], "response_metadata": {}}

    def _make_file(self, file_id: str, name: str, title: str, user: str) -> dict[str, Any]:
        mimetype = self._upload_meta.get(file_id, {}).get("mimetype") or _guess_type(name)
        base = f"{self.origin}{FILES_PREFIX}{self.team_id}-{file_id}"
        file = {
            "id": file_id,
            "created": int(time.time()),
            "timestamp": int(time.time()),
            "name": name,
            "title": title,
            "mimetype": mimetype,
            "filetype": name.rpartition(".")[2].lower() if "." in name else "binary",
            "user": user,
            "user_team": self.team_id,
            "mode": "hosted",
            "editable": False,
            "is_external": False,
            "is_public": True,
            "size": len(self._file_bytes.get(file_id, b"")),
            "url_private": f"{base}/{name}",
            "url_private_download": f"{base}/download/{name}",
            "permalink": f"https://example.slack.com/files/{user}/{file_id}/{name}",
        }
        self.files[file_id] = file
        return file

    # -- raw HTTP: the upload URL and file downloads ------------------------------------------

    def _raw_answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        if path.startswith(UPLOAD_PREFIX) and method == "POST":
            file_id = self._uploads.pop(path.removeprefix(UPLOAD_PREFIX), None)
            if file_id is None:
                return Response.text(404, "upload URL not found or used")
            self._file_bytes[file_id] = body
            return Response.text(200, f"OK - {len(body)}")
        if path.startswith(FILES_PREFIX) and method in ("GET", "HEAD"):
            auth = headers.get("authorization", "")
            if auth != f"Bearer {self.token}":
                # Slack answers a browser-like request without the token with its sign-in page.
                return Response.text(302, "", "text/html")
            file_id = path.removeprefix(FILES_PREFIX).split("/")[0].partition("-")[2]
            file = self.files.get(file_id)
            if file is None:
                return Response.text(404, "file not found")
            return Response(200, self._file_bytes[file_id], {"Content-Type": file["mimetype"]})
        return Response.text(404, "not found")

    # -- test-side helpers ----------------------------------------------------------------------

    def add_file(
        self, content: bytes, name: str, mimetype: str, *, user: str = "UHUMAN"
    ) -> dict[str, Any]:
        """A file a person uploaded (as shared in a `file_share` event); returns its object."""
        with self._lock:
            file_id = _file_id()
            self._file_bytes[file_id] = content
            self._upload_meta[file_id] = {"filename": name, "mimetype": mimetype}
            return copy.deepcopy(self._make_file(file_id, name, name, user))

    def file_content(self, file_id: str) -> bytes:
        """The bytes stored for a file (KeyError when unknown)."""
        with self._lock:
            return self._file_bytes[file_id]


def _guess_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"
