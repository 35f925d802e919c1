"""Faults injected on purpose between a sync client and the real server (a transport wrapper:
the requests that do go through reach the real server process unchanged)."""

from __future__ import annotations

import random
from typing import Any

from pyidb.sync.transport import HttpTransport, TransportError


class FaultyTransport:
    """Wraps :class:`HttpTransport`. ``lose_ack`` (paths): send, let the server commit, then
    raise as if the answer was lost; ``down`` (paths): raise before sending; each is consumed
    once per listed entry. ``rate``: with a seeded ``rng``, fail that share of requests at random,
    half before sending and half after (lost answer)."""

    def __init__(self, url: str, token: str, *, rng: random.Random | None = None, rate: float = 0.0) -> None:
        self.inner = HttpTransport(url, token=token)
        self.lose_ack: list[str] = []
        self.down: list[str] = []
        self.rng, self.rate = rng, rate
        self.sent: list[str] = []
        self.on_answer: Any = None  # called with (path, answer) before it is returned

    async def post(self, path: str, body: dict) -> dict:
        if path in self.down:
            self.down.remove(path)
            raise TransportError("injected: server unreachable")
        random_fault = self.rng is not None and self.rng.random() < self.rate
        if random_fault and self.rng.random() < 0.5:  # type: ignore[union-attr]
            raise TransportError("injected: connection refused")
        answer = await self.inner.post(path, body)
        self.sent.append(path)
        if path in self.lose_ack:
            self.lose_ack.remove(path)
            raise TransportError("injected: the answer was lost after the server committed")
        if random_fault:
            raise TransportError("injected: the answer was lost after the server committed")
        if self.on_answer is not None:
            self.on_answer(path, answer)
        return answer

    async def aclose(self) -> None:
        await self.inner.aclose()
