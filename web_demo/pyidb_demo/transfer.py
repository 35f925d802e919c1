"""The demo's export and import: pyidb's export format (:mod:`pyidb.transfer`) on text in memory.

>>> text = await export_text(db)                 # a pyidb export (JSON lines), as a str
>>> header = read_export(text, "backup.pyidb.jsonl")   # checked whole; its header
>>> db2 = await import_text(factory, "tasks", text)    # replaces the database "tasks"

The page downloads the text and reads an uploaded file's text; the format (header, one line per
record, a trailer with a checksum) is the one ``python -m pyidb export``/``import`` read and write,
so a demo export imports into SQLite and back.
"""

from __future__ import annotations

import io
from typing import Any

import pyidb
from pyidb import transfer as pyidb_transfer

__all__ = ["TransferError", "export_text", "import_text", "read_export"]


class TransferError(Exception):
    """A file the demo cannot import; the message says what is wrong with it."""


async def export_text(db: pyidb.Database) -> str:
    """Every store of ``db`` as export text (ASCII only)."""
    out = io.StringIO()
    await pyidb.export_database(db, out)
    return out.getvalue()


def read_export(text: str, file_name: str) -> dict[str, Any]:
    """Check the whole export ``text`` (every line, counts, checksum) and return its header."""
    try:
        return pyidb_transfer.check_export(io.StringIO(text))
    except pyidb.TransferError as e:  # pyidb says which line and what is wrong with it
        raise TransferError(f"not a pyidb export file: {file_name}: {e}") from None


async def import_text(factory: pyidb.Factory, name: str, text: str) -> pyidb.Database:
    """Replace database ``name`` with the export ``text``; returns it open.

    The text is checked whole before the old database is deleted; a record the schema refuses
    aborts the import and leaves no database (the caller puts its backup back)."""
    return await pyidb.import_database(factory, name, io.StringIO(text), overwrite=True)
