"""Tests of the web demo: its Python logic on CPython, and the served page in Chromium.

Importing this package puts web_demo/ on sys.path, so the tests import the app package
``pyidb_demo`` as the page does.
"""

from __future__ import annotations

import sys
from pathlib import Path

WEB_DEMO = Path(__file__).resolve().parents[2] / "web_demo"
if str(WEB_DEMO) not in sys.path:
    sys.path.insert(0, str(WEB_DEMO))
