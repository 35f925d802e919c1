"""``python -m pyidb.host serve --config host.toml --socket PATH``: serve the plugins' scopes.

``python -m pyidb.host check --config host.toml`` only checks the configuration (exit status 2
and every problem with its path if it is wrong).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from . import ConfigError, Host
from .server import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyidb.host", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("serve", help="serve the IndexedDB API of each plugin's scope on a Unix socket")
    run.add_argument("--config", required=True, help="host.toml (or .yaml with PyYAML)")
    run.add_argument("--socket", required=True, help="path of the Unix socket to create")
    check = sub.add_parser("check", help="check the configuration and exit")
    check.add_argument("--config", required=True)
    args = parser.parse_args(argv)
    try:
        host = Host.from_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.command == "check":
        print(f"{args.config}: ok ({len(host.config.plugins)} plugins)")
        return 0
    return asyncio.run(_serve(host, args.socket))


async def _serve(host: Host, path: str) -> int:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await serve(host, path, ready=lambda: print(f"serving on {path}", flush=True))
    except asyncio.CancelledError:
        pass
    finally:
        host.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
