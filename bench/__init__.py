"""Benchmarks of the deployed index (run from the repository root, e.g. `venv/bin/python bench/serving.py`).

They reuse the test helpers: the program under mocks (tests/support/recorded.py), the real engine
(tests/support/engine.py), the image builders (tests/host/), the client helpers
(tests/support/index_client.py), imported as the tests import them.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _path in (ROOT / "tests", ROOT / "tests" / "support", ROOT):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
