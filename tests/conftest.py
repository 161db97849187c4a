import sys
from pathlib import Path

# The program's modules (components/) and the test helpers import from the repository root.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
# Shared helpers (the program under mocks, real servers, clients) live apart from the test files.
sys.path.insert(0, str(ROOT / "tests" / "support"))

import pytest  # noqa: E402 (after the paths it needs)

from deployments import deploy  # noqa: E402
from recorded import Deployment  # noqa: E402


# Each stack as the program registers it under mocks, once per test module that asks.
@pytest.fixture(scope="module")
def dev() -> Deployment:
    return deploy("dev")


@pytest.fixture(scope="module")
def staging() -> Deployment:
    return deploy("staging")


@pytest.fixture(scope="module")
def production() -> Deployment:
    return deploy("production")


def pytest_terminal_summary(terminalreporter):
    """Figures the real-host tests measured (build and boot times, downtime), shown even on success."""
    from host.commands import FIGURES
    from metrics_tally import METRICS
    from readme_commands import TALLY

    metrics = METRICS.line()
    lines = [*FIGURES, *([TALLY.line()] if TALLY.outcomes else []), *([metrics] if metrics else [])]
    if lines:
        terminalreporter.section("pypi-index figures")
        for line in lines:
            terminalreporter.write_line(line)
