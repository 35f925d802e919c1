"""Helpers for the conformance suite that work without pytest (inside Pyodide too)."""

from __future__ import annotations

import itertools
import re
from types import TracebackType
from typing import Any

_counter = itertools.count()


def db_name(prefix: str = "db") -> str:
    """A database name no other test uses (browser databases outlive a test)."""
    import random

    return f"{prefix}-{next(_counter)}-{random.randrange(1 << 30):x}"


class raises:
    """``with raises(pyidb.DataError, match="key"):`` — like pytest.raises, dependency-free.

    Checks the class and, for pyidb errors, that ``.name`` matches the class's DOMException name.
    """

    def __init__(self, expected: type[BaseException], match: str | None = None) -> None:
        self.expected = expected
        self.match = match
        self.value: Any = None

    def __enter__(self) -> raises:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if exc is None:
            raise AssertionError(f"expected {self.expected.__name__}, nothing was raised")
        if not isinstance(exc, self.expected):
            return False  # let the unexpected error propagate with its traceback
        expected_name = getattr(self.expected, "name", None)
        if isinstance(expected_name, str):
            assert getattr(exc, "name", None) == expected_name, (exc, expected_name)
        if self.match is not None and not re.search(self.match, str(exc)):
            raise AssertionError(f"{exc!r} does not match {self.match!r}")
        self.value = exc
        return True


def browser_only(fn: Any) -> Any:
    """Mark a test that only the real browser can prove (the engine runners skip it, saying why)."""
    fn.browser_only = "needs the browser's real IndexedDB"
    return fn


def engine_only(reason: str) -> Any:
    """Mark a test that only applies to the pure-Python engine; ``reason`` says why."""

    def mark(fn: Any) -> Any:
        fn.engine_only = reason
        return fn

    return mark
