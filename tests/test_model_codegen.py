"""The typed client: ``python -m pyidb.model generate`` writes a module that mypy checks programs
against (a correct one passes, typos in model names and where fields fail) and that runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from model_conformance._blog import BLOG

REPO = Path(__file__).resolve().parent.parent

GOOD = '''
import asyncio
import pyidb
from app_models import AppClient, Post, User


async def main() -> None:
    client = await AppClient.open("typed", factory=pyidb.factory("memory:"))
    user: User = await client.user.create(data={"email": "a@x.org", "role": "ADMIN", "posts": {
        "create": [{"title": "Hello", "views": 3, "tags": ["a"]}]}})
    posts: list[Post] = await client.post.find_many(
        where={"views": {"gte": 1}, "title": {"startswith": "H", "mode": "insensitive"},
               "author": {"is": {"email": "a@x.org"}}, "OR": [{"published": False}]},
        order=[{"views": "desc"}], take=10, include={"author": True})
    await client.post.update(where={"id": posts[0]["id"]}, data={"views": {"increment": 1}})
    async with client.tx() as t:
        await t.membership.create(data={"userId": user["id"], "group": "g", "rank": 1})
        found = await t.membership.find_unique(where={"userId_group": {"userId": 1, "group": "g"}})
        assert found is not None
    author = posts[0].get("author")
    print(user["email"], posts[0]["title"], author["email"] if author else None,
          (await client.post.find_unique_or_raise(where={"id": 1}))["views"])
    client.close()


asyncio.run(main())
'''

BAD = '''
import pyidb
from app_models import AppClient


async def main() -> None:
    client = await AppClient.open("typed", factory=pyidb.factory("memory:"))
    await client.usr.find_many()
    await client.user.find_many(where={"emial": "a@x.org"})
    await client.user.create(data={"name": "no email"})
    await client.post.find_many(order={"views": "up"})
    await client.user.find_many(where={"role": "ROOT"})
'''


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("typed")
    (work / "schema.prisma").write_text(BLOG)
    done = subprocess.run([sys.executable, "-m", "pyidb.model", "generate", "schema.prisma",
                           "-o", "app_models.py"], cwd=work, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "wrote app_models.py" in done.stdout
    return work


def _mypy(work: Path, program: str) -> subprocess.CompletedProcess[str]:
    (work / "program.py").write_text(program)
    return subprocess.run([sys.executable, "-m", "mypy", "--follow-imports=silent",
                           "--cache-dir", str(work / ".mypy_cache"), "program.py", "app_models.py"],
                          cwd=work, capture_output=True, text=True, timeout=300,
                          env={"MYPYPATH": str(REPO), "PATH": "/usr/bin:/bin"})


def test_a_correct_program_type_checks_and_runs(generated: Path) -> None:
    done = _mypy(generated, GOOD)
    assert done.returncode == 0, done.stdout + done.stderr
    ran = subprocess.run([sys.executable, "program.py"], cwd=generated, capture_output=True,
                         text=True, timeout=60, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == ["a@x.org", "Hello", "a@x.org", "4"]


def test_typos_fail_the_type_check(generated: Path) -> None:
    done = _mypy(generated, BAD)
    out = done.stdout
    assert done.returncode == 1, out
    assert '"AppClient" has no attribute "usr"' in out
    lines = BAD.splitlines()
    flagged = {int(line.split(":")[1]) for line in out.splitlines() if line.startswith("program.py:")}
    # One error on each line with a mistake (a wrong model, where field, missing required field,
    # sort order, enum value), and on no other line.
    assert flagged == {i + 1 for i, line in enumerate(lines) if "await client." in line
                       and "AppClient.open" not in line}, out
    assert 'Missing key "email" for TypedDict "UserCreate"' in out
    assert 'expected "UserWhere | None"' in out
