"""Key ranges (``IDBKeyRange``) and spec "convert a value to a key range".

>>> r = KeyRange.bound(1, 10, upper_open=True)
>>> r.includes(5), 10 in r
(True, False)
"""

from __future__ import annotations

from typing import Any

from .arguments import check_flag
from .errors import DataError
from .key_encoding import encode_key
from .keys import Key, compare_keys, key_to_python, to_key

__all__ = ["KeyRange", "to_key_range", "to_query"]


class KeyRange:
    """An interval of keys; build one with :meth:`only`, :meth:`lower_bound`,
    :meth:`upper_bound` or :meth:`bound`. ``None`` as ``lower``/``upper`` means unbounded."""

    __slots__ = ("_lower", "_lower_open", "_upper", "_upper_open")

    _lower: Key | None
    _upper: Key | None
    _lower_open: bool
    _upper_open: bool

    def __init__(
        self,
        lower: Any = None,
        upper: Any = None,
        lower_open: bool = False,
        upper_open: bool = False,
    ) -> None:
        """Validate and normalize the bounds (DataError if they are no keys or out of order)."""
        lo = None if lower is None else to_key(lower)
        hi = None if upper is None else to_key(upper)
        lower_open = check_flag(lower_open, "lower_open")
        upper_open = check_flag(upper_open, "upper_open")
        if lo is not None and hi is not None:
            c = compare_keys(lo, hi)
            if c > 0:
                raise DataError(
                    f"the lower bound {lo!r} is greater than the upper bound {hi!r}; "
                    "pass the smaller key first"
                )
            if c == 0 and (lower_open or upper_open):
                raise DataError(
                    f"the bounds are equal ({lo!r}) and one is open, so the range would be "
                    "empty; use KeyRange.only(key) or close both ends"
                )
        set_ = object.__setattr__
        set_(self, "_lower", lo)
        set_(self, "_upper", hi)
        set_(self, "_lower_open", lower_open if lo is not None else True)
        set_(self, "_upper_open", upper_open if hi is not None else True)

    # -- attributes named as in IDBKeyRange (list bounds are returned as fresh copies, as JS
    # returns a new array each time, so no caller can mutate the range) ----------------------
    @property
    def lower(self) -> Key | None:
        """The lower bound, or None if unbounded below."""
        return key_to_python(self._lower)

    @property
    def upper(self) -> Key | None:
        """The upper bound, or None if unbounded above."""
        return key_to_python(self._upper)

    @property
    def lower_open(self) -> bool:
        """True if the lower bound itself is excluded (always True when unbounded)."""
        return self._lower_open

    @property
    def upper_open(self) -> bool:
        """True if the upper bound itself is excluded (always True when unbounded)."""
        return self._upper_open

    # -- constructors named as in IDBKeyRange ------------------------------------------------
    @classmethod
    def only(cls, value: Any) -> KeyRange:
        """The range holding just ``value``: ``KeyRange.only([2024, "a"])``."""
        key = to_key(value)
        return cls(key, key)

    @classmethod
    def lower_bound(cls, lower: Any, open: bool = False) -> KeyRange:
        """Keys >= ``lower`` (> if ``open``): ``KeyRange.lower_bound(10, open=True)``."""
        return cls(_required(lower, "lower_bound"), None, open, True)

    @classmethod
    def upper_bound(cls, upper: Any, open: bool = False) -> KeyRange:
        """Keys <= ``upper`` (< if ``open``): ``KeyRange.upper_bound("m")``."""
        return cls(None, _required(upper, "upper_bound"), True, open)

    @classmethod
    def bound(
        cls, lower: Any, upper: Any, lower_open: bool = False, upper_open: bool = False
    ) -> KeyRange:
        """Keys between ``lower`` and ``upper``: ``KeyRange.bound(1, 10, upper_open=True)``."""
        return cls(_required(lower, "bound"), _required(upper, "bound"), lower_open, upper_open)

    # -- queries -------------------------------------------------------------------------------
    def includes(self, key: Any) -> bool:
        """True if ``key`` lies in the range (DataError if it is not a key)."""
        return self._includes(to_key(key))

    def _includes(self, key: Key) -> bool:
        """:meth:`includes` for a normalized key."""
        if self._lower is not None:
            c = compare_keys(self._lower, key)
            if c > 0 or (c == 0 and self._lower_open):
                return False
        if self._upper is not None:
            c = compare_keys(key, self._upper)
            if c > 0 or (c == 0 and self._upper_open):
                return False
        return True

    __contains__ = includes

    @property
    def is_only(self) -> bool:
        """True if the range holds exactly one key."""
        return (
            self._lower is not None
            and self._upper is not None
            and not self._lower_open
            and not self._upper_open
            and compare_keys(self._lower, self._upper) == 0
        )

    # -- value semantics -----------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"KeyRange is immutable; build a new one instead of setting {name}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("KeyRange is immutable")

    def _identity(self) -> tuple[bytes | None, bytes | None, bool, bool]:
        lo = None if self._lower is None else encode_key(self._lower)
        hi = None if self._upper is None else encode_key(self._upper)
        return lo, hi, self._lower_open, self._upper_open

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KeyRange):
            return NotImplemented
        return self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())

    def __copy__(self) -> KeyRange:
        return self  # immutable

    def __deepcopy__(self, memo: Any) -> KeyRange:
        return self

    def __repr__(self) -> str:
        lo, hi = self._lower, self._upper
        if lo is None and hi is None:
            return "KeyRange()"
        if self.is_only:
            return f"KeyRange.only({lo!r})"
        if hi is None:
            return f"KeyRange.lower_bound({lo!r}{', open=True' if self._lower_open else ''})"
        if lo is None:
            return f"KeyRange.upper_bound({hi!r}{', open=True' if self._upper_open else ''})"
        flags = (", lower_open=True" if self._lower_open else "") + (
            ", upper_open=True" if self._upper_open else ""
        )
        return f"KeyRange.bound({lo!r}, {hi!r}{flags})"


def _required(value: Any, method: str) -> Any:
    if value is None:
        raise DataError(f"KeyRange.{method}() needs a key, not None (use None query for all keys)")
    return value


def to_key_range(query: Any, *, null_allowed: bool = True) -> KeyRange | None:
    """Spec "convert a value to a key range": None (everything), a KeyRange, or a key.

    >>> to_key_range(5)
    KeyRange.only(5)
    """
    q = to_query(query, null_allowed=null_allowed)
    if q is None or isinstance(q, KeyRange):
        return q
    return KeyRange(q, q)


def to_query(query: Any, *, null_allowed: bool = True) -> Any:
    """:func:`to_key_range` without building a range for one key: a KeyRange as given, None
    (everything; DataError where not allowed), or the normalized key.

    >>> to_query(5.0), to_query(None)
    (5, None)
    """
    if isinstance(query, KeyRange):
        return query
    if query is None:
        if null_allowed:
            return None
        raise DataError("a key or KeyRange is required here; None (all records) is not allowed")
    return to_key(query)
