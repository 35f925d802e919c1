"""The in-memory storage: one :class:`sortedcontainers.SortedDict` per tree, with an undo log.

Seeks and counts are O(log n) bisections; a rollback replays the undo log backwards, so it
costs as much as the transaction's writes, not the size of the data::

    s = MemoryStorage()
    s.begin_write()
    s.put(1, b"k", b"v")
    s.rollback()
    assert s.get(1, b"k") is None
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from sortedcontainers import SortedDict

from ...errors import InvalidArgumentError, InvalidStateError
from .base import Storage, not_in_write

__all__ = ["MemoryStorage"]

_DURABILITIES = ("default", "strict", "relaxed")

# Undo log opcodes. Entries hold the SortedDict itself (not the tree number) so that undoing a
# write made after a whole-tree swap touches the swapped-in dict, which the later swap-undo
# then replaces: replaying backwards always lands on the exact pre-transaction state.
_SET = 0  # (_SET, tree_dict, key, old_value_or_None): put back the old value, or remove the key
_NEW_TREE = 1  # (_NEW_TREE, tree): the tree did not exist before the transaction
_SWAP_TREE = 2  # (_SWAP_TREE, tree, old_dict): the whole tree was cleared by swapping dicts

# Unbounded scans are served in chunks, each re-seeking after the last key returned, so a
# write made while an iterator is still alive can never corrupt or invalidate it.
_FIRST_CHUNK = 64
_MAX_CHUNK = 4096


class _ClosedTrees(dict):  # type: ignore[type-arg]
    """Stands in for the tree table after close(): every read fails with a clear error."""

    def get(self, tree: Any, default: Any = None) -> Any:
        raise InvalidStateError("the memory storage is closed; open a new factory to use it again")


class MemoryStorage(Storage):
    """Ordered ``bytes -> bytes`` trees kept in memory (lost when the process ends).

    >>> s = MemoryStorage(); s.begin_write(); s.put(1, b"a", b"1"); s.commit()
    >>> list(s.scan(1))
    [(b'a', b'1')]
    """

    durable = False

    def __init__(self) -> None:
        self._trees: dict[int, SortedDict] = {}
        self._undo: list[tuple[Any, ...]] | None = None  # None <=> no write transaction
        self.closed = False

    # -- transactions ---------------------------------------------------------------------

    def begin_write(self, durability: str = "default") -> None:
        """Open the write transaction: ``s.begin_write("relaxed")``."""
        if self.closed:
            raise InvalidStateError("the memory storage is closed; open a new factory to use it again")
        if self._undo is not None:
            raise InvalidStateError(
                "MemoryStorage.begin_write() while a write transaction is already open; only one "
                "writer at a time is allowed. This is a bug in pyidb's engine, please report it."
            )
        if durability not in _DURABILITIES:
            raise InvalidArgumentError(
                f"durability must be 'default', 'strict' or 'relaxed', not {durability!r}"
            )
        self._undo = []

    def commit(self) -> None:
        """Keep the changes: ``s.commit()`` (memory has nothing to flush)."""
        if self._undo is None:
            raise not_in_write(self, "commit")
        self._undo = None

    def rollback(self) -> None:
        """Undo every change since begin_write, newest first: ``s.rollback()``."""
        undo = self._undo
        if undo is None:
            raise not_in_write(self, "rollback")
        trees = self._trees
        for entry in reversed(undo):
            op = entry[0]
            if op == _SET:
                _, tree_dict, key, old = entry
                if old is None:
                    tree_dict.pop(key, None)
                else:
                    tree_dict[key] = old
            elif op == _NEW_TREE:
                trees.pop(entry[1], None)
            else:  # _SWAP_TREE
                trees[entry[1]] = entry[2]
        self._undo = None

    @property
    def in_write(self) -> bool:
        """True between begin_write and commit/rollback."""
        return self._undo is not None

    def close(self) -> None:
        """Roll back an open transaction and drop the data: ``s.close()``."""
        if self.closed:
            return
        if self._undo is not None:
            self.rollback()
        self.closed = True
        self._trees = _ClosedTrees()

    # -- reads ----------------------------------------------------------------------------

    def get(self, tree: int, key: bytes) -> bytes | None:
        """The value for ``key`` or None: ``s.get(1, b"a")``."""
        tree_dict = self._trees.get(tree)
        if tree_dict is None:
            return None
        return tree_dict.get(key)

    def contains_any(self, tree: int, keys: list[bytes]) -> bool:
        """True if any of ``keys`` is in ``tree``: ``s.contains_any(1, [b"a", b"b"])``."""
        tree_dict = self._trees.get(tree)
        return tree_dict is not None and any(key in tree_dict for key in keys)

    def scan(
        self,
        tree: int,
        lo: bytes | None = None,
        hi: bytes | None = None,
        *,
        reverse: bool = False,
        limit: int | None = None,
    ) -> Iterator[tuple[bytes, bytes]]:
        """Pairs with lo <= key < hi in key order: ``list(s.scan(1, b"a", b"b", reverse=True))``.

        With ``limit`` the (bounded) result is materialized at once; without it pairs come in
        chunks that re-seek after the last key, so the iterator survives interleaved writes.
        """
        tree_dict = self._trees.get(tree)
        if tree_dict is None or (lo is not None and hi is not None and lo >= hi):
            return iter(())
        if limit is not None:
            if limit <= 0:
                return iter(())
            keys = list(islice(tree_dict.irange(lo, hi, (True, False), reverse), limit))
            get = tree_dict.__getitem__
            return iter([(k, get(k)) for k in keys])
        return self._scan_chunks(tree, lo, hi, reverse)

    def _scan_chunks(
        self, tree: int, lo: bytes | None, hi: bytes | None, reverse: bool
    ) -> Iterator[tuple[bytes, bytes]]:
        chunk = _FIRST_CHUNK
        lo_incl = True
        while True:
            # Look the tree up again each chunk: a whole-tree clear swaps in a new dict.
            tree_dict = self._trees.get(tree)
            if tree_dict is None:
                return
            if reverse:
                rng = tree_dict.irange(lo, hi, (True, False), True)
            else:
                rng = tree_dict.irange(lo, hi, (lo_incl, False), False)
            keys = list(islice(rng, chunk))
            get = tree_dict.get
            for k in keys:
                v = get(k)
                if v is not None:  # skip keys deleted between chunks
                    yield k, v
            if len(keys) < chunk:
                return
            if reverse:
                hi = keys[-1]  # hi is exclusive: resume strictly below the last key
            else:
                lo, lo_incl = keys[-1], False
            chunk = min(chunk * 2, _MAX_CHUNK)

    def count(self, tree: int, lo: bytes | None = None, hi: bytes | None = None) -> int:
        """How many keys with lo <= key < hi, by two bisections: ``s.count(1, b"a")``."""
        tree_dict = self._trees.get(tree)
        if tree_dict is None:
            return 0
        start = 0 if lo is None else tree_dict.bisect_left(lo)
        stop = len(tree_dict) if hi is None else tree_dict.bisect_left(hi)
        return max(0, stop - start)

    # -- writes ---------------------------------------------------------------------------

    def trees(self) -> list[int]:
        """Ids of the non-empty trees: ``s.trees()``."""
        return sorted(t for t, pairs in self._trees.items() if pairs)

    def _tree_for_write(self, tree: int, undo: list[tuple[Any, ...]]) -> SortedDict:
        tree_dict = self._trees.get(tree)
        if tree_dict is None:
            tree_dict = self._trees[tree] = SortedDict()
            undo.append((_NEW_TREE, tree))
        return tree_dict

    def put(self, tree: int, key: bytes, value: bytes) -> None:
        """Insert or overwrite one pair: ``s.put(1, b"a", b"1")``."""
        undo = self._undo
        if undo is None:
            raise not_in_write(self, "put")
        tree_dict = self._tree_for_write(tree, undo)
        undo.append((_SET, tree_dict, key, tree_dict.get(key)))
        tree_dict[key] = value

    def put_many(self, tree: int, items: Iterable[tuple[bytes, bytes]]) -> None:
        """Put many pairs with one bulk update: ``s.put_many(1, [(b"a", b"1"), (b"b", b"2")])``."""
        undo = self._undo
        if undo is None:
            raise not_in_write(self, "put_many")
        pairs = items if isinstance(items, list) else list(items)
        if not pairs:
            return
        tree_dict = self._tree_for_write(tree, undo)
        old = tree_dict.get
        undo.extend([(_SET, tree_dict, k, old(k)) for k, _ in pairs])
        # SortedDict.update re-sorts in bulk when adding many keys: faster than one by one.
        tree_dict.update(pairs)

    def delete(self, tree: int, key: bytes) -> bool:
        """Delete one pair; True if it existed: ``s.delete(1, b"a")``."""
        undo = self._undo
        if undo is None:
            raise not_in_write(self, "delete")
        tree_dict = self._trees.get(tree)
        if tree_dict is None:
            return False
        old = tree_dict.pop(key, None)
        if old is None:
            return False
        undo.append((_SET, tree_dict, key, old))
        return True

    def delete_range(self, tree: int, lo: bytes | None, hi: bytes | None) -> int:
        """Delete every pair with lo <= key < hi; how many: ``s.delete_range(1, None, None)``."""
        undo = self._undo
        if undo is None:
            raise not_in_write(self, "delete_range")
        tree_dict = self._trees.get(tree)
        if tree_dict is None:
            return 0
        if lo is None and hi is None:
            # Clearing a whole tree: swap in an empty dict; rollback swaps the old one back.
            n = len(tree_dict)
            if n:
                self._trees[tree] = SortedDict()
                undo.append((_SWAP_TREE, tree, tree_dict))
            return n
        start = 0 if lo is None else tree_dict.bisect_left(lo)
        stop = len(tree_dict) if hi is None else tree_dict.bisect_left(hi)
        if stop <= start:
            return 0
        keys = list(tree_dict.islice(start, stop))
        pop = tree_dict.pop
        for k in keys:
            undo.append((_SET, tree_dict, k, pop(k)))
        return len(keys)
