"""pyidb.storage on every backend: estimate() reports usage that grows with the data, and
persist()/persisted() answer truthfully for where the data lives."""

from __future__ import annotations

import pyidb

from ._support import db_name


def _kind(factory: pyidb.Factory) -> str:
    return factory.url.split(":")[0]


async def test_estimate_counts_what_is_stored(factory):
    before = await pyidb.storage.estimate(factory=factory)
    assert set(before) == {"usage", "quota"}
    assert type(before["usage"]) is int and type(before["quota"]) is int
    assert 0 <= before["usage"] <= before["quota"]
    db = await factory.open(db_name("estimate"), 1, upgrade=lambda db, o, n, tx:
                            db.create_object_store("s").create_index("i", "tag"))
    async with db.transaction("s", "readwrite") as tx:
        await tx.object_store("s").put_many([{"tag": i, "blob": b"x" * 2000} for i in range(200)],
                                            list(range(200)))
    after = await pyidb.storage.estimate(factory=factory)
    if _kind(factory) == "browser":
        # Chromium updates its usage figure lazily: only its shape and bounds are certain.
        assert 0 <= after["usage"] <= after["quota"]
    elif _kind(factory) == "memory":
        # each blob is ~2,668 bytes of base64 in the stored JSON, plus keys and index entries
        assert 200 * 2668 <= after["usage"] - before["usage"] <= 200 * 2800
    else:
        assert after["usage"] - before["usage"] >= 200 * 2000  # the file grew by the data
        assert after["quota"] > after["usage"]
    db.close()


async def test_persist_answers_truthfully(factory):
    kind = _kind(factory)
    persisted = await pyidb.storage.persisted(factory=factory)
    granted = await pyidb.storage.persist(factory=factory)
    assert type(persisted) is bool and type(granted) is bool
    if kind == "sqlite":
        assert (persisted, granted) == (True, True)  # a file is never evicted
    elif kind == "memory":
        assert (persisted, granted) == (False, False)  # gone with the process, whatever we ask
    else:
        assert await pyidb.storage.persisted(factory=factory) == granted
