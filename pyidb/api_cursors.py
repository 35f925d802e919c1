"""The public cursor classes (``IDBCursor``, ``IDBCursorWithValue``) and :class:`CursorRequest`
(re-exported by :mod:`pyidb.api`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Generator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .api_types import Direction, Key, Request

if TYPE_CHECKING:
    from .api_stores import Index, ObjectStore

C = TypeVar("C", bound="Cursor")


class Cursor(ABC):
    """A key cursor (``IDBCursor``). Moving it returns it again, or None at the end."""

    _last_move: Request[Any] | None = None

    @property
    @abstractmethod
    def source(self) -> ObjectStore | Index: ...

    @property
    @abstractmethod
    def direction(self) -> Direction: ...

    @property
    @abstractmethod
    def key(self) -> Key: ...

    @property
    @abstractmethod
    def primary_key(self) -> Key: ...

    @abstractmethod
    def _move(self, count: int, key: Key | None, primary_key: Key | None) -> Request[Any]:
        """Backend hook behind continue_/advance/continue_primary_key."""

    def continue_(self, key: Key | None = None) -> Request[Cursor | None]:
        """Move to the next record (or the first at or past ``key``)."""
        self._last_move = move = self._move(1, key, None)
        return move

    def continue_primary_key(self, key: Key, primary_key: Key) -> Request[Cursor | None]:
        """Move an index cursor to ``key`` and ``primary_key`` (or just past them)."""
        self._last_move = move = self._move(1, key, primary_key)
        return move

    def advance(self, count: int) -> Request[Cursor | None]:
        """Skip ``count`` records."""
        self._last_move = move = self._move(count, None, None)
        return move

    @abstractmethod
    def update(self, value: Any) -> Request[Key]:
        """Replace the current record's value."""

    @abstractmethod
    def delete(self) -> Request[None]:
        """Delete the current record."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} key={self.key!r} primary_key={self.primary_key!r}>"


class CursorWithValue(Cursor):
    """A cursor that also has the record's ``value`` (``IDBCursorWithValue``)."""

    @property
    @abstractmethod
    def value(self) -> Any: ...


class CursorRequest(Generic[C]):
    """What ``open_cursor`` returns: await it, or iterate it with ``async for``.

    >>> async for cursor in store.open_cursor(KeyRange.lower_bound(10)):
    ...     print(cursor.key, cursor.value)
    """

    __slots__ = ("_request",)

    def __init__(self, request: Request[C | None]) -> None:
        self._request = request

    def __await__(self) -> Generator[Any, None, C | None]:
        return self._request.__await__()

    def __aiter__(self) -> AsyncIterator[C]:
        return self._iterate()

    def map(self, fn: Callable[[Any], Any]) -> CursorRequest[Any]:
        """The same request with its cursor passed through ``fn`` (None stays None); for
        wrappers that hand out their own cursor objects."""
        return CursorRequest(self._request.map(lambda c: None if c is None else fn(c)))

    async def _iterate(self) -> AsyncIterator[C]:
        cursor = await self._request
        while cursor is not None:
            before = cursor._last_move
            yield cursor
            if cursor._last_move is not before:  # the loop body moved it already
                cursor = await cursor._last_move  # type: ignore[misc]
            else:
                cursor = await cursor.continue_()  # type: ignore[assignment]

