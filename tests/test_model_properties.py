"""Property-based check of the model client's query planner (hypothesis, CPython, memory and
sqlite): for random records and random where/order/take/skip, the client answers exactly what a
plain-Python evaluation answers. The Pyodide and Chromium runners run the seeded version of the
same check (tests/model_conformance/test_model_planner.py)."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from model_conformance.test_model_planner import check_random_queries

import pyidb

_count = itertools.count()


@pytest.mark.parametrize("backend", ["memory:", "sqlite"])
def test_planner_never_changes_an_answer(backend: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    url = backend if backend == "memory:" else \
        f"sqlite:///{tmp_path_factory.mktemp('planner') / 'p.db'}"
    factory = pyidb.factory(url)

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(seed=st.integers(0, 2**32 - 1), n_records=st.integers(0, 30))
    def run(seed: int, n_records: int) -> None:
        asyncio.run(check_random_queries(factory, seed, n_records, 25))

    run()
    close = getattr(factory, "close", None)
    if close is not None:
        close()
