"""How the sync worker reaches the server: JSON over HTTP POST.

``HttpTransport(url, token=...)`` uses httpx on CPython and the browser's ``fetch`` under Pyodide.
Anything with ``async post(path, body) -> dict`` is a transport (the tests wrap one to inject
faults). A refusal the server meant (4xx with ``{"error", "message"}``) raises
:class:`pyidb.sync.protocol.SyncError`; a network failure or 5xx raises :class:`TransportError`,
which the worker retries.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Protocol

from .protocol import SyncError


class TransportError(Exception):
    """The server could not be reached or failed (retry later)."""


class Transport(Protocol):
    async def post(self, path: str, body: dict) -> dict: ...


class HttpTransport:
    """``await HttpTransport("http://127.0.0.1:8765", token="alice-token").post("/pull", body)``."""

    def __init__(self, url: str, *, token: str | None = None, timeout: float = 30.0) -> None:
        self.url, self.timeout = url.rstrip("/"), timeout
        self.headers = {"content-type": "application/json"}
        if token:
            self.headers["authorization"] = f"Bearer {token}"
        self._client: Any = None

    async def post(self, path: str, body: dict) -> dict:
        if sys.platform == "emscripten":
            status, text = await self._fetch(path, body)
        else:
            status, text = await self._httpx(path, body)
        try:
            answer = json.loads(text) if text else {}
        except ValueError:
            answer = {}
        if status >= 500 or status == 0:
            raise TransportError(f"the sync server answered {status}: {text[:200]}")
        if status >= 400:
            raise SyncError(status, str(answer.get("error", "http_error")),
                            str(answer.get("message", text[:200])))
        return answer

    async def _httpx(self, path: str, body: dict) -> tuple[int, str]:
        import httpx  # optional dependency: pip install 'pyidb[sync]'

        if self._client is None:
            # One client per transport: its connection is kept alive between requests. Every
            # request goes to self.url (no redirects followed), so a plain http:// server never
            # uses TLS: no certificate store is loaded for it (that load costs ~50 ms).
            tls = self.url.lower().startswith("https:")
            self._client = httpx.AsyncClient(timeout=self.timeout, **({} if tls else {"verify": False}))
        try:
            response = await self._client.post(self.url + path, content=json.dumps(body),
                                               headers=self.headers)
        except httpx.HTTPError as exc:
            raise TransportError(f"cannot reach {self.url}: {exc!r}") from exc
        return response.status_code, response.text

    async def _fetch(self, path: str, body: dict) -> tuple[int, str]:
        from pyodide.http import pyfetch  # type: ignore[import-not-found]

        try:
            response = await pyfetch(self.url + path, method="POST", body=json.dumps(body),
                                     headers=self.headers)
            return response.status, await response.string()
        except Exception as exc:  # a JS TypeError "Failed to fetch": offline or refused
            raise TransportError(f"cannot reach {self.url}: {exc}") from exc

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
