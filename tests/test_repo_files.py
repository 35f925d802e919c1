"""The repository's own files: .gitignore must not cover a file that is tracked."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_gitignore_covers_no_tracked_file() -> None:
    """A tracked file the .gitignore matches would silently stop being added when recreated."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout (an unpacked archive): no tracked files to compare")
    ignored = subprocess.run(["git", "ls-files", "--cached", "--ignored", "--exclude-standard"],
                             cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert ignored.split() == []
