"""A staging index on loopback for the access tests: the real pypiserver (with the program's guard and
the access.json it delivers) behind the real front server, both exactly as the program declares them,
with a team of users: who may read, who may upload, who owns which projects."""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from components.in_container import project_access
from tests.host.machine import free_port
from tests.support.deployments import PASSWORDS, config_for
from tests.support.index_client import Response, http_get, make_wheel, upload
from tests.support.real_front import RunningFront, running_front
from tests.support.real_pypiserver import RunningIndex, running_deployed_index, unpack_programs
from tests.support.recorded import Deployment, reveal, run_program

TEAM = {
    **PASSWORDS,  # ci, alice
    "ci-acme": "ci-acme-password-6d2b",
    "reader": "reader-password-3e9f1",
}
UPLOADERS = ["ci", "alice", "ci-acme"]


@dataclass
class AccessStack:
    backend: RunningIndex
    front: RunningFront
    deployment: Deployment

    @property
    def upload_url(self) -> str:
        return self.deployment.exports["uploadUrl"]

    def get(self, path: str, user: str | None = None) -> Response:
        return http_get(f"{self.front.url}{path}", user, TEAM.get(user or ""), ca=self.front.ca)

    def listed(self, project: str, user: str, timeout: float = 10) -> bool:
        """Whether `project`'s page is served to `user` within `timeout` (the indexer writes it moments
        after the upload is answered)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.get(f"/simple/{project}/", user).status == 200:
                return True
            time.sleep(0.1)
        return False

    def upload(self, user: str, wheel: Path) -> Response:
        return upload(self.upload_url, wheel, user, TEAM.get(user, "not-a-user-password"), ca=self.front.ca)

    def upload_as(self, user: str, work: Path, filename: str) -> Response:
        """An upload named `filename` (a wheel's bytes under any spelling: refused ones are never read)."""
        wheel = make_wheel(work / filename, "placeholder", "1.0")
        named = wheel.with_name(filename)
        wheel.rename(named)
        return self.upload(user, named)

    def audit_lines(self) -> list[str]:
        return [line for line in self.backend.log.read_text().splitlines() if line.startswith("audit: ")]

    def audited(self, pattern: re.Pattern[str], timeout: float = 10) -> bool:
        """Whether an audit line matches `pattern` within `timeout` (the hook writes after the answer)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(pattern.match(line) for line in self.audit_lines()):
                return True
            time.sleep(0.1)
        return False


def team_deployment(https_port: int, **overrides) -> Deployment:
    settings = {
        "domain": "127.0.0.1",
        "httpsPort": str(https_port),
        "users": TEAM,
        "uploaders": UPLOADERS,
        **overrides,
    }
    return run_program("staging", config_for("staging", **settings))


def delivered_statuses(deployment: Deployment) -> dict:
    """The projects' statuses in the access.json the deployment delivers beside the indexer."""
    with tempfile.TemporaryDirectory() as folder:
        unpack_programs(reveal(deployment.named("pypi-gunicorn-config").inputs["stdin"]), Path(folder))
        return project_access.load(str(Path(folder) / project_access.ACCESS_FILE)).statuses


@contextmanager
def access_stack(workdir: Path, **overrides) -> Iterator[AccessStack]:
    https_port, backend_port = free_port(), free_port()
    deployment = team_deployment(https_port, **overrides)
    caddy_text = reveal(deployment.named("pypi-caddyfile").inputs["stdin"])
    with (
        running_deployed_index(deployment, workdir / "backend", backend_port) as backend,
        running_front(
            caddy_text, workdir / "front", backend.packages, backend_port, https_port, delivered_statuses(deployment)
        ) as front,
    ):
        yield AccessStack(backend, front, deployment)
