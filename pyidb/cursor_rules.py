"""Call-time checks of cursor moves and writes (spec 4.8 ``continue``/``advance``/``update``), in
the spec's order, shared by every backend that keeps its own cursor state (the engine, the host
socket's client), so both raise the same error at the same call::

    key, pk = check_move(count=1, key=5, primary_key=None, state=cursor_state)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from .arguments import show
from .errors import DataError, InvalidAccessError, InvalidArgumentError, InvalidStateError
from .key_path import INVALID_KEY, NO_KEY, extract_key
from .keys import compare_keys, to_key

__all__ = ["CursorState", "check_cursor_write", "check_move", "check_step", "check_update_key"]


class CursorState(NamedTuple):
    """What the checks need to know of a cursor at the moment of the call."""

    deleted: bool  # its store or index was deleted
    is_index: bool
    direction: str
    got_value: bool  # it sits on a record (not moving, not past its end)
    key: Any  # its current (normalized) key and primary key
    primary_key: Any
    check_active: Callable[[], None]  # raises TransactionInactiveError


_DELETED = "the cursor's object store or index has been deleted"


def check_step(deleted: bool, check_active: Callable[[], None], got_value: bool) -> None:
    """The checks of a move without a target key after its count (``continue_()``,
    ``advance(n)``): deleted, then inactive, then already moving or past its end. A backend's
    hot path calls this alone; :func:`check_move` calls it too."""
    if deleted:
        raise InvalidStateError(_DELETED)
    check_active()
    if not got_value:
        raise InvalidStateError(
            "the cursor is already moving or has gone past its end; await the previous move first"
        )


def check_move(count: Any, key: Any, primary_key: Any, state: CursorState) -> tuple[Any, Any]:
    """Checks of ``advance(count)``/``continue_(key)``/``continue_primary_key(key, pk)``; returns
    the normalized (key, primary_key) to move to (None where not given)."""
    if type(count) is not int or count < 1:
        raise InvalidArgumentError(f"advance() needs a count of 1 or more, not {show(count)}")
    if primary_key is None:
        check_step(state.deleted, state.check_active, state.got_value)
    else:
        if state.deleted:
            raise InvalidStateError(_DELETED)
        if key is None:
            raise DataError("continue_primary_key() needs both a key and a primary key")
        if not state.is_index:
            raise InvalidAccessError("continue_primary_key() works only on index cursors")
        if state.direction not in ("next", "prev"):
            raise InvalidAccessError("continue_primary_key() needs direction 'next' or 'prev'")
        check_step(False, state.check_active, state.got_value)
    if key is None:
        return None, None
    forward = state.direction.startswith("next")
    sign = 1 if forward else -1
    key = to_key(key)
    order = compare_keys(key, state.key) * sign
    if order < 0 or (order == 0 and primary_key is None):
        raise DataError(
            f"continue_({key!r}) must move {'forward' if forward else 'backward'} "
            f"from the cursor's key {state.key!r}"
        )
    if primary_key is not None:
        primary_key = to_key(primary_key)
        if order == 0 and compare_keys(primary_key, state.primary_key) * sign <= 0:
            raise DataError(
                "continue_primary_key() must move past the cursor's primary key "
                f"{state.primary_key!r}"
            )
    return key, primary_key


def check_cursor_write(check_active: Callable[[], None], check_writable: Callable[[], None],
                       deleted: bool, got_value: bool, key_only: bool) -> None:
    """Checks of ``cursor.update()``/``cursor.delete()`` before their own arguments."""
    check_active()
    check_writable()
    if deleted:
        raise InvalidStateError(_DELETED)
    if not got_value or key_only:
        raise InvalidStateError(
            "the cursor has no current record (it is moving, past its end, or a key cursor)"
        )


def check_update_key(key_path: Any, copy: Any, primary_key: Any) -> None:
    """``cursor.update()``: a copied value of an in-line store must keep the record's key."""
    if key_path is None:
        return
    extracted = extract_key(copy, key_path)
    if extracted is NO_KEY or extracted is INVALID_KEY or compare_keys(extracted, primary_key) != 0:
        raise DataError(
            f"the value's key at {key_path!r} must stay {primary_key!r} "
            "when updating through a cursor"
        )
