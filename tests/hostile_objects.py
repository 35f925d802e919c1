"""Arguments a hostile (or unlucky) program passes: shared by the bad-input tests and the fuzz."""

from __future__ import annotations


class RaisingEqStr(str):
    """A str subclass whose comparisons raise (once ran inside the engine's abort: issue 9 #1)."""

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("hostile __eq__")

    def __ne__(self, other: object) -> bool:
        raise RuntimeError("hostile __ne__")

    __hash__ = str.__hash__


class NoTruth:
    """What a numpy array is to ``bool()`` and ``==``: its truth value raises."""

    def __bool__(self) -> bool:
        raise ValueError("The truth value of an array with more than one element is ambiguous")

    def __eq__(self, other: object) -> NoTruth:  # type: ignore[override]
        return NoTruth()

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return "NoTruth()"


class BrokenIterable:
    """Iterates one store name, then fails half-way."""

    def __iter__(self):  # type: ignore[no-untyped-def]
        yield "plain"
        raise NotImplementedError("broken in the middle")

    def __repr__(self) -> str:
        return "BrokenIterable()"


def released_memoryview() -> memoryview:
    m = memoryview(b"plain")
    m.release()
    return m
