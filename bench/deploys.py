"""What the engine costs a user: `pulumi up` and `pulumi preview` of the dev stack on this machine's Docker
engine and of production on a test host (Debian 12, its Docker preinstalled, the images already there),
each timed end to end as the CLI runs it (tests/support/engine.py, the real engine).

    venv/bin/python -m bench.deploys [--runs N]

Prints one line per stack, medians over N runs (each run a fresh stack):
`DEPLOY <stack>: first up <s> s, no-change up <s> s, preview <s> s (<n> resources in state, median of N)`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.host.conftest import BackupServer, running_backup_server
from tests.host.deploys import SshAgent, destroyed, new_site
from tests.host.images import ensure_images
from tests.host.machine import TestHost, free_port
from tests.support.engine import RealStack, project_copy
from tests.support.recorded import stack_config


def timed(step: Callable[[], object]) -> float:
    started = time.monotonic()
    step()
    return time.monotonic() - started


def measure(stack: RealStack) -> tuple[float, float, float, int]:
    """(first up, no-change up, preview) seconds and the stack's resources."""
    first = timed(lambda: stack.up(check_no_changes=False))
    again = timed(lambda: stack.up(check_no_changes=False))
    preview = timed(lambda: stack.preview_changes(expect_no_changes=True))
    return first, again, preview, len(stack.resources())


def report(name: str, runs: list[tuple[float, float, float, int]]) -> None:
    first, again, preview = (statistics.median(r[i] for r in runs) for i in range(3))
    print(
        f"DEPLOY {name}: first up {first:.1f} s, no-change up {again:.1f} s, preview {preview:.1f} s "
        f"({runs[0][3]} resources in state, median of {len(runs)})",
        flush=True,
    )


def dev_run(work: Path) -> tuple[float, float, float, int]:
    config = {
        **stack_config("dev"),
        "httpsPort": str(free_port()),
        "containerName": "pypiserver-benchdeploy",
        "packagesVolume": "pypiserver-benchdeploy-packages",
    }
    stack = RealStack(project_copy(work / "dev"), "dev", work / "dev-state", "local docker")
    stack.configure(config)
    try:
        return measure(stack)
    finally:
        stack.destroy(exclude_protected=False)


def production_run(images, backups: BackupServer, work: Path, number: int) -> tuple[float, float, float, int]:
    agent = SshAgent()
    try:
        with TestHost(images, suite="bookworm") as host:
            site = new_site(host, agent, work / f"production-{number}", backups.config(f"bench-{number}"))
            site.configure()
            with destroyed(site):
                return measure(site.stack)
    finally:
        agent.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    images = ensure_images()
    with tempfile.TemporaryDirectory(prefix="bench-deploys-") as folder:
        work = Path(folder)
        report("dev", [dev_run(work / f"dev-{n}") for n in range(args.runs)])
        (work / "backup-keys").mkdir()
        with running_backup_server(images, work / "backup-keys") as backups:
            report("production", [production_run(images, backups, work, n) for n in range(args.runs)])


if __name__ == "__main__":
    main()
