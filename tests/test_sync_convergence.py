"""Randomized convergence: several clients edit offline at random, sync at random moments through
a transport that fails at random (before sending, or after the server committed: a lost answer),
then every client and the server hold the same data and the changelog replays to it."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import pyidb
from pyidb.model import ModelError
from pyidb.sync.client import open_client
from pyidb.sync.transport import TransportError
from tests.sync.faults import FaultyTransport
from tests.sync.schemas import BLOG
from tests.sync.server_process import ServerProcess
from tests.test_sync_client import SCHEMA, TOKENS, replay

N_CLIENTS, STEPS = 3, 120


async def snapshot(client) -> dict:
    posts = await client.post.find_many(include={"labels": True})
    for post in posts:
        post["labels"] = sorted(label["id"] for label in post["labels"])
    return {"posts": sorted(map(repr, posts)),
            "comments": sorted(map(repr, await client.comment.find_many())),
            "labels": sorted(map(repr, await client.label.find_many()))}


async def random_edit(rng: random.Random, client, name: str, n: int) -> None:
    posts = await client.post.find_many()
    comments = await client.comment.find_many()
    labels = await client.label.find_many()
    op = rng.choice(["create", "create", "update", "update", "update", "delete", "comment", "comment",
                     "edit_comment", "delete_comment", "label", "link", "link", "unlink"])
    try:
        if op == "create" or not posts:
            await client.post.create(data={"id": f"{name}-p{n}", "owner": "alice", "title": f"t{n}"})
        elif op == "update":
            post = rng.choice(posts)
            field = rng.choice(["title", "body", "views"])
            value = rng.randrange(100) if field == "views" else f"{name}:{n}"
            await client.post.update(where={"id": post["id"]}, data={field: value})
        elif op == "delete":
            await client.post.delete(where={"id": rng.choice(posts)["id"]})
        elif op == "comment":
            await client.comment.create(data={"id": f"{name}-c{n}", "postId": rng.choice(posts)["id"],
                                              "text": f"c{n}"})
        elif op == "edit_comment" and comments:
            await client.comment.update(where={"id": rng.choice(comments)["id"]}, data={"text": f"e{n}"})
        elif op == "delete_comment" and comments:
            await client.comment.delete(where={"id": rng.choice(comments)["id"]})
        elif op == "label" or (op in ("link", "unlink") and not labels):
            await client.label.create(data={"id": f"{name}-l{n}", "name": f"l{n}"})
        elif op in ("link", "unlink"):
            verb = "connect" if op == "link" else "disconnect"
            await client.post.update(where={"id": rng.choice(posts)["id"]},
                                     data={"labels": {verb: [{"id": rng.choice(labels)["id"]}]}})
    except ModelError:
        pass  # e.g. the record vanished in a pull just now: a normal local error, nothing written


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_random_offline_edits_converge(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    with ServerProcess(tmp_path, BLOG, tokens=TOKENS) as server:
        clients, workers = [], []
        for i in range(N_CLIENTS):
            client = await open_client(f"conv{i}", SCHEMA, factory=pyidb.factory("memory:"))
            transport = FaultyTransport(server.url, "ta", rng=random.Random(seed * 100 + i), rate=0.2)
            worker = client.sync_worker(transport, batch_size=rng.choice([1, 3, 50]),
                                        pull_limit=rng.choice([2, 7, 500]),
                                        max_retries=1, backoff=(0.001, 0.005))
            clients.append(client)
            workers.append(worker)
        for n in range(STEPS):
            i = rng.randrange(N_CLIENTS)
            if rng.random() < 0.3:
                try:
                    await rng.choice([workers[i].sync_once, workers[i].push, workers[i].pull])()
                except TransportError:
                    pass  # injected; the next round retries
            else:
                await random_edit(rng, clients[i], f"k{i}", n)
        for worker in workers:
            worker.transport.rate = 0.0
        for _ in range(2):  # quiet rounds: everyone pushes, then everyone pulls everything
            for worker in workers:
                await worker.sync_once()
        states = [await snapshot(c) for c in clients]
        fresh = await open_client("fresh", SCHEMA, factory=pyidb.factory("memory:"))
        await fresh.sync_worker(server.url, token="ta", pull_limit=5).sync_once()
        server_state = await snapshot(fresh)
        for i, state in enumerate(states):  # on a failure, say what differs from the server
            for kind in state:
                mine, theirs = set(state[kind]), set(server_state[kind])
                if mine != theirs:
                    print(f"client {i} {kind}: only here {mine - theirs}, only on the server {theirs - mine}")
        assert states[0] == states[1] == states[2] == server_state
        assert states[0]["posts"], "the run should leave some data"
        for client in clients:
            stats = await client.outbox.stats()
            assert stats["pending"] == stats["in_flight"] == stats["failed"] == 0
        log = replay(Path(server.db[len("sqlite:///"):]), "alice")
        assert log["replayed"] == log["current"]
        live = {k for k, v in log["current"].items() if v is not None}
        links = sum(len(eval(p)["labels"]) for p in states[0]["posts"])  # our own repr strings
        assert len(live) == (len(states[0]["posts"]) + len(states[0]["comments"]) + len(states[0]["labels"])
                             + links)
        assert links, "the run should leave some many-to-many links"
