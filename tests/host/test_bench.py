"""The serving benchmark runs end to end on a small store (its figures are for people, not asserted)."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.support.recorded import ROOT

LAST_LINE = re.compile(
    r"^serving: ours_rps=(\d+) recipe_rps=(\d+) static_rps=(\d+) "
    r"vs_recipe=(\d+\.\d\d) vs_static=(\d+\.\d\d) p99_ms=(\d+(?:\.\d+)?)$"
)


def test_benchmark_smoke_run(host_images):
    result = subprocess.run(
        [sys.executable, "-m", "bench.serving", "--files", "200", "--seconds", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    lines = result.stdout.strip().splitlines()
    match = LAST_LINE.match(lines[-1])
    assert match, f"the last line is not the summary the README documents: {lines[-1]!r}"
    assert all(float(value) > 0 for value in match.groups()), lines[-1]
    assert "everything removed" in result.stdout
    # Ours is measured with its credentials and refuses requests without them.
    assert "(401 without credentials)" in result.stdout
