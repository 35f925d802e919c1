"""The sync server as an ASGI app (Starlette) and a command.

    python -m pyidb.sync.server --schema schema.prisma --db sqlite:///server.db \\
        --host 127.0.0.1 --port 8765 --tokens tokens.json

``tokens.json`` maps bearer tokens to scope keys: ``{"alice-token": "alice"}``. In code,
``create_app(server, authenticate=fn)`` takes any ``fn(request) -> scope key or None``.
Endpoints (JSON, see ``pyidb.sync.protocol``): ``POST /push``, ``POST /pull``, ``POST /history``,
``GET /health``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .core import SyncServer
from .protocol import SyncError
from .schema import SyncSchema
from .store import Store

Authenticate = Callable[[Request], "str | Awaitable[str | None] | None"]


def bearer_tokens(tokens: dict[str, str]) -> Authenticate:
    """``authenticate`` from a token -> scope map: ``bearer_tokens({"alice-token": "alice"})``."""

    def authenticate(request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        return tokens.get(token.strip())

    return authenticate


def create_app(server: SyncServer, authenticate: Authenticate, *,
               cors_origins: list[str] | None = None) -> Starlette:
    """The ASGI app: ``uvicorn.run(create_app(server, bearer_tokens(tokens)))``.

    ``cors_origins``: web origins whose pages may call the server (``["https://app.example"]``):
    a browser client served from another origin than the server needs it."""

    def endpoint(method: Callable[[str, dict], dict | str]) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            scope = authenticate(request)
            if hasattr(scope, "__await__"):
                scope = await scope  # type: ignore[misc]
            if not isinstance(scope, str) or not scope:
                return JSONResponse({"error": "unauthorized", "message": "a valid bearer token is needed"},
                                    status_code=401)
            try:
                body = await request.json()
            except ClientDisconnect:  # the client went away mid-request (closed tab): no answer
                return JSONResponse({"error": "disconnected"}, status_code=400)
            except ValueError:
                return JSONResponse({"error": "bad_request", "message": "the body must be JSON"}, 400)
            if not isinstance(body, dict):
                return JSONResponse({"error": "bad_request", "message": "the body must be an object"}, 400)
            try:
                # The database work blocks: run it off the event loop.
                answer = await run_in_threadpool(method, scope, body)
            except SyncError as exc:
                return JSONResponse({"error": exc.code, "message": exc.message}, status_code=exc.status)
            if isinstance(answer, str):  # JSON text already (push_json, pull_json)
                return Response(answer, media_type="application/json")
            return JSONResponse(answer)

        return handle

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True, "schema_version": server.schema_version})

    middleware = []
    if cors_origins:
        middleware.append(Middleware(CORSMiddleware, allow_origins=cors_origins, allow_methods=["POST"],
                                     allow_headers=["authorization", "content-type"]))
    return Starlette(routes=[
        Route("/push", endpoint(server.push_json), methods=["POST"]),
        Route("/pull", endpoint(server.pull_json), methods=["POST"]),
        Route("/history", endpoint(server.history), methods=["POST"]),
        Route("/health", health, methods=["GET"]),
    ], middleware=middleware)


def pause_hook(spec: str) -> Callable[[int], None]:
    """Fault injection for the tests (``PYIDB_SYNC_TEST_PAUSE="N:/dir"``): after the N-th event
    of a push is applied, still inside its transaction, create ``/dir/paused`` and wait until
    ``/dir/resume`` exists. The test can then SIGKILL the server mid-batch, or race a pull or
    another push against the open transaction, at a known point instead of by timing."""
    count, _, directory = spec.partition(":")
    paused, resume = Path(directory) / "paused", Path(directory) / "resume"

    def hook(applied: int) -> None:
        if applied == int(count):
            paused.touch()
            while not resume.exists():
                time.sleep(0.01)

    return hook


def main(argv: list[str] | None = None) -> None:
    """The command line (see the module doc)."""
    parser = argparse.ArgumentParser(prog="python -m pyidb.sync.server", description=__doc__.split("\n")[0])
    parser.add_argument("--schema", required=True, help="the Prisma schema of the synced models")
    parser.add_argument("--db", default="sqlite:///server.db", help="sqlite:///path or postgresql://...")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port (printed)")
    parser.add_argument("--tokens", required=True, help='JSON file {"token": "scope key"}')
    parser.add_argument("--schema-version", type=int, default=1)
    parser.add_argument("--cors-origin", action="append", default=[],
                        help="a web origin allowed to call the server from a page (repeatable)")
    parser.add_argument("--policies", default=None,
                        help='JSON {"Model": "merge|server_wins|client_wins|strict"}')
    args = parser.parse_args(argv)

    import uvicorn

    tokens: Any = json.loads(Path(args.tokens).read_text())
    if not isinstance(tokens, dict) or not all(isinstance(v, str) for v in tokens.values()):
        parser.error('--tokens must hold a JSON object {"token": "scope key"}')
    schema = SyncSchema.parse(Path(args.schema).read_text())
    policies = json.loads(args.policies) if args.policies else None
    server = SyncServer(schema, Store(args.db), schema_version=args.schema_version, policies=policies)
    if os.environ.get("PYIDB_SYNC_TEST_PAUSE"):
        server.after_event = pause_hook(os.environ["PYIDB_SYNC_TEST_PAUSE"])
    app = create_app(server, bearer_tokens(tokens), cors_origins=args.cors_origin)
    config = uvicorn.Config(app, host=args.host, port=args.port,
                            log_level="warning")
    userver = uvicorn.Server(config)

    # Print the bound address (the port may have been 0) so scripts and tests can find it.
    original_startup = userver.startup

    async def startup(sockets: Any = None) -> None:
        await original_startup(sockets)
        for s in userver.servers:
            for sock in s.sockets:
                host, port = sock.getsockname()[:2]
                print(f"pyidb sync server listening on http://{host}:{port}", flush=True)

    userver.startup = startup  # type: ignore[method-assign]
    try:
        userver.run()
    finally:
        server.store.close()


if __name__ == "__main__":
    main()
