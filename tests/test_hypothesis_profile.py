"""Every property test runs under the project's Hypothesis profile (tests/conftest.py).

CI must not depend on machine speed: no deadline, no "input generation is slow" health check,
and a fixed number of examples per test.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck
from hypothesis.internal.detection import is_hypothesis_test


def test_every_property_test_is_speed_independent(request: pytest.FixtureRequest) -> None:
    found = []
    for item in request.session.items:
        fn = getattr(item, "obj", None)
        if fn is None or not is_hypothesis_test(fn):
            continue
        s = fn._hypothesis_internal_use_settings
        found.append(item.nodeid)
        assert s.deadline is None, f"{item.nodeid}: deadline {s.deadline}"
        assert HealthCheck.too_slow in s.suppress_health_check, f"{item.nodeid}: too_slow checked"
        assert s.max_examples > 0 and s.database is None, f"{item.nodeid}: {s}"
    # Run alone (-k), this test sees only itself; in the suite it must have found the others.
    assert found or len(request.session.items) < 50
