"""The indexer's series as Prometheus reads them: promtool's own linter (`promtool check metrics`:
the text format, and the naming conventions it checks) over what the indexer writes."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from components.in_container import exposition, index_metrics


def _lint(text: str) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool not found: install Debian's prometheus package (.ci/run does)"
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("lag", [0.25, None], ids=["after-a-change", "no-change-yet"])
def test_the_indexer_series_pass_promtool(lag):
    text = index_metrics.render(3, 1000, 5 << 30, 10 << 30, True, lag, 1765150000.5)
    _lint(text)
    values = dict(line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))
    assert values["pypi_index_store_files"] == "3" and values["pypi_index_store_free_bytes"] == str(5 << 30)
    assert values["pypi_index_uploads_paused"] == "1"
    assert ("pypi_index_indexer_lag_seconds" in values) == (lag is not None), "no lag before the first change"


def test_label_values_are_escaped():
    text = exposition.family(
        "pypi_index_example_total", "counter", "An example.", [({"b": 'say "hi"\\\n', "a": "x"}, 2)]
    )
    _lint(text)
    assert 'pypi_index_example_total{a="x",b="say \\"hi\\"\\\\\\n"} 2' in text
