"""``python -m pyidb.model generate schema.prisma -o app_models.py [--class-name AppClient]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .codegen import generate
from .errors import SchemaError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyidb.model")
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="write a typed client module for a Prisma schema")
    gen.add_argument("schema", type=Path)
    gen.add_argument("-o", "--output", type=Path, required=True)
    gen.add_argument("--class-name", default="AppClient")
    args = parser.parse_args(argv)
    try:
        source = generate(args.schema.read_text(encoding="utf-8"), source=args.schema.name,
                          class_name=args.class_name)
    except SchemaError as exc:
        print(f"{args.schema}: {exc}", file=sys.stderr)
        return 1
    args.output.write_text(source, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
