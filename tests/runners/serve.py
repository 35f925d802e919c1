"""A small static file server for the staged site/, bound to 127.0.0.1 only.

>>> server = SiteServer(Path("site"), overlays={"/tests/": Path("tests")}).start()
>>> server.url("tests/runners/browser_runner.html")
'http://127.0.0.1:41234/tests/runners/browser_runner.html'
>>> server.stop()

``overlays`` serve a URL prefix from a live folder first (so edits to tests/ and web_demo/ show
without rebuilding site/), falling back to site/. Responses are never cached and ``.mjs``/``.wasm``
get the MIME types browsers demand for modules and streaming compilation.
Command line (what ``./build.sh demo`` runs): ``python tests/runners/serve.py site --port 8000``.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import posixpath
import threading
import urllib.parse
from pathlib import Path
from typing import Any

MIME_TYPES = {
    ".mjs": "text/javascript",
    ".js": "text/javascript",
    ".wasm": "application/wasm",
    ".whl": "application/octet-stream",
    ".py": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".zip": "application/zip",
}


class SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Serves ``directory`` with prefix overlays; quiet unless a log file is given."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **MIME_TYPES}

    def __init__(self, *args: Any, overlays: dict[str, Path], log_path: Path | None,
                 **kwargs: Any) -> None:
        self.overlays = overlays
        self.log_path = log_path
        super().__init__(*args, **kwargs)

    def translate_path(self, path: str) -> str:
        url_path = posixpath.normpath(urllib.parse.unquote(urllib.parse.urlsplit(path).path))
        for prefix, folder in self.overlays.items():
            if (url_path + "/").startswith(prefix):
                rest = url_path[len(prefix):].lstrip("/")
                candidate = (folder / rest).resolve()
                # Stay inside the overlay folder; a missing file falls back to site/.
                if candidate.is_relative_to(folder.resolve()) and candidate.exists():
                    return str(candidate)
        return super().translate_path(path)

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        if self.log_path is not None:
            with open(self.log_path, "a", encoding="utf-8") as log:
                log.write(f"{self.address_string()} {format % args}\n")


class SiteServer:
    """A threaded HTTP server for ``root`` on 127.0.0.1 (port 0: a free one)."""

    def __init__(self, root: Path, *, port: int = 0, overlays: dict[str, Path] | None = None,
                 log_path: Path | None = None) -> None:
        handler = functools.partial(SiteHandler, directory=os.fspath(root),
                                    overlays=overlays or {}, log_path=log_path)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="site-server",
                                       daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def url(self, path: str = "") -> str:
        return self.base_url + path.lstrip("/")

    def start(self) -> SiteServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a staged pyidb site on 127.0.0.1.")
    parser.add_argument("root", type=Path, help="the folder to serve (site/)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--page", default="web_demo/index.html", help="the page URL to print")
    args = parser.parse_args()
    server = SiteServer(args.root, port=args.port)
    print(f"serving {args.root}/ at {server.url(args.page)}  (Ctrl-C stops)", flush=True)
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()


if __name__ == "__main__":
    main()
