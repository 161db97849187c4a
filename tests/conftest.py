# Everything is imported from the repository root, by its full name (`components.front.routes`,
# `tests.support.engine`, `bench.store`): tests/ is a package, so pytest puts the folder above it on
# sys.path (its default "prepend" import mode), as `python -m` does for the benchmarks.
import pytest

from tests.support.deployments import deploy
from tests.support.recorded import Deployment


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
    from tests.host.commands import FIGURES
    from tests.support.access_tally import ACCESS
    from tests.support.metrics_tally import METRICS
    from tests.support.readme_commands import TALLY

    metrics, access = METRICS.line(), ACCESS.line()
    lines = [
        *FIGURES,
        *([TALLY.line()] if TALLY.outcomes else []),
        *([metrics] if metrics else []),
        *([access] if access else []),
    ]
    if lines:
        terminalreporter.section("pypi-index figures")
        for line in lines:
            terminalreporter.write_line(line)
