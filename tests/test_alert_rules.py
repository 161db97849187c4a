"""The shipped alert rules (monitoring/alerts.yml): valid for promtool, each with a summary and a
runbook line, and each tested by `promtool test rules` firing once and staying silent once."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.metrics_tally import METRICS
from tests.support.recorded import ROOT

RULES = ROOT / "monitoring" / "alerts.yml"
TESTS = ROOT / "monitoring" / "alerts_test.yml"
PROMTOOL = shutil.which("promtool") or "promtool"
# The label placeholders the annotations use, as Prometheus's template renders them.
LABEL = re.compile(r"\{\{\s*\$labels\.(\w+)\s*\}\}")


@pytest.fixture(autouse=True)
def _promtool():
    # Not a skip: without promtool the rules are untested, which is a failure (.ci/run installs it).
    assert shutil.which(PROMTOOL), (
        "promtool not found: install Debian's prometheus package (apt-get install prometheus)"
    )


def _alerts() -> dict[str, dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"]}


def _cases() -> list[dict]:
    return [case for test in yaml.safe_load(TESTS.read_text())["tests"] for case in test["alert_rule_test"]]


def _render(text: str, labels: dict[str, str]) -> str:
    return LABEL.sub(lambda match: str(labels[match.group(1)]), text)


def _with_annotations(tests: dict, alerts: dict[str, dict]) -> dict:
    """The test file with each expected alert's annotations rendered from the rules and its labels,
    as Prometheus renders them, so promtool compares the whole alert."""
    for test in tests["tests"]:
        for case in test["alert_rule_test"]:
            annotations = alerts[case["alertname"]]["annotations"]
            for expected in case["exp_alerts"]:
                labels = expected["exp_labels"]
                expected["exp_annotations"] = {key: _render(text, labels) for key, text in annotations.items()}
    return tests


def test_promtool_checks_the_rules():
    result = subprocess.run([PROMTOOL, "check", "rules", str(RULES)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_alerts())} rules found" in result.stdout


@pytest.mark.parametrize("name", sorted(_alerts()))
def test_every_alert_says_what_is_wrong_and_what_to_do(name):
    annotations = _alerts()[name].get("annotations", {})
    assert annotations.get("summary", "").strip(), f"{name}: no summary"
    assert annotations.get("runbook", "").strip(), f"{name}: no runbook line"


@pytest.mark.parametrize("name", sorted(_alerts()))
def test_every_alert_has_a_firing_and_a_silent_case(name):
    cases = [case for case in _cases() if case["alertname"] == name]
    assert any(case["exp_alerts"] for case in cases), f"{name}: no case where it fires"
    assert any(not case["exp_alerts"] for case in cases), f"{name}: no case where it stays silent"


def test_promtool_runs_every_case(tmp_path: Path):
    alerts = _alerts()
    complete = _with_annotations(yaml.safe_load(TESTS.read_text()), alerts)
    shutil.copy(RULES, tmp_path / RULES.name)
    (tmp_path / TESTS.name).write_text(yaml.safe_dump(complete, sort_keys=False))
    result = subprocess.run([PROMTOOL, "test", "rules", TESTS.name], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "SUCCESS" in result.stdout + result.stderr
    METRICS.rules_tested = len({case["alertname"] for case in _cases()} & set(alerts))


def test_the_readme_lists_every_alert():
    readme = (ROOT / "README.md").read_text()
    table = {m.group(1) for m in re.finditer(r"^\| `(PypiIndex\w+)` \|", readme, re.MULTILINE)}
    assert table == set(_alerts())
