"""A production stack deployed by the real engine onto a test host, as an operator does it: the stack's
config set with `pulumi config set`, the deploy key in an SSH agent (the Docker provider's OpenSSH
client takes it from there, as the README tells users), `pulumi up`, then a preview that must show no
change. Shared by the host scenarios, the restore drill and the migration tests."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.host.scripts import STACK_MARKER
from tests.support.engine import RealStack, project_copy
from tests.support.index_client import http_get, wait_healthy
from tests.support.recorded import stack_config

from .machine import TestHost

USERS = {"ci": "ci-password-7f3a9c1e5b", "alice": "alice-password-2d8e4f6a"}
UNITS = ("pypiserver", "pypiserver-front", "pypiserver-indexer")
# The Docker volumes and networks a production stack makes on its host.
VOLUMES = (
    "pypiserver-packages pypiserver-auth pypiserver-pages pypiserver-front-config pypiserver-front-data"
    " pypiserver-backup-cache"
)
NETWORKS = "pypiserver-internal pypiserver-public"


class SshAgent:
    """An ssh-agent of our own, holding the test hosts' deploy keys; stopped by `close()`."""

    def __init__(self) -> None:
        started = subprocess.run(["ssh-agent", "-s"], capture_output=True, text=True, check=True).stdout
        pairs = (line.split(";", 1)[0] for line in started.splitlines())
        self.env = dict(pair.split("=", 1) for pair in pairs if "=" in pair)

    def add(self, key: Path) -> None:
        subprocess.run(["ssh-add", "-q", str(key)], env={**os.environ, **self.env}, check=True)

    def close(self) -> None:
        subprocess.run(["ssh-agent", "-k"], env={**os.environ, **self.env}, capture_output=True, check=False)


def production_config(host: TestHost, backups: dict, **changes) -> dict:
    """The committed production config, pointed at `host` (its pinned key, its published port)."""
    return {
        **stack_config("production"),
        **backups,
        "sshHost": "127.0.0.1",
        "sshPort": str(host.ssh_port),
        "sshHostKey": host.host_public_key,
        # The host container publishes its port 8080 on 127.0.0.1:<index_port> of this machine.
        "httpsPort": "8080",
        "httpPort": "0",
        "domain": "127.0.0.1",
        "publicUrl": f"https://127.0.0.1:{host.index_port}",
        "users": dict(USERS),
        **changes,
    }


def engine_label(host: TestHost) -> str:
    """`bookworm docker 20.10.24 API 1.41`: the host kind and the engine it runs (if any yet)."""
    if not host.has_engine:
        return f"{host.suite} (no engine yet)"
    version = host.exec("docker version --format '{{.Server.Version}} API {{.Server.APIVersion}}'").stdout.strip()
    return f"{host.suite} docker {version}"


@dataclass
class Site:
    """A production stack on one test host, and what a user does with its outputs."""

    host: TestHost
    stack: RealStack
    config: dict[str, Any] = field(default_factory=dict)

    def deploy(self, **changes: Any) -> dict[str, Any]:
        """Change the config, `pulumi up` (then a preview with no change), trust the CA it exports."""
        self.configure(**changes)
        self.stack.up()
        return self.trust_outputs()

    def configure(self, **changes: Any) -> None:
        self.config.update(changes)
        self.stack.configure(self.config)

    def trust_outputs(self) -> dict[str, Any]:
        """The stack's outputs; the caCertificate saved where the clients read it (atomically: requests
        in flight read this file)."""
        outputs = self.stack.outputs()
        staged = self.ca.with_suffix(".new")
        staged.write_text(outputs["caCertificate"])
        staged.replace(self.ca)
        return outputs

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.host.index_port}"

    @property
    def ca(self) -> Path:
        return self.stack.work_dir / "pypi-index-ca.pem"

    def get(self, path: str, user: str | None = None, password: str | None = None, timeout: float = 10):
        return http_get(f"{self.url}{path}", user, password, timeout=timeout, ca=self.ca)

    def wait_healthy(self, timeout: float) -> float:
        return wait_healthy(self.url, timeout=timeout, ca=self.ca)

    def bootstrap_report(self) -> str:
        """The bootstrap's last line, `ENGINE docker <version> API <api>`, as the state keeps it."""
        return self.stack.resource("docker-bootstrap")["outputs"]["stdout"].splitlines()[-1]


def new_site(host: TestHost, agent: SshAgent, work: Path, backups: dict, **changes: Any) -> Site:
    """A new production stack (its own project copy and backend under `work`) aimed at `host`."""
    agent.add(host.private_key_path)
    stack = RealStack(
        project_copy(work / "project"), "production", work / "state",
        engine_label=lambda: engine_label(host), extra_env=agent.env,
    )  # fmt: skip
    return Site(host, stack, production_config(host, backups, **changes))


def host_state(host: TestHost) -> dict:
    """What a deploy could have changed on the host."""
    engine = host.has_engine
    return {
        "engine": engine,
        "containers": host.exec("docker ps -a --format '{{.Names}}'").stdout.split() if engine else [],
        "volumes": host.exec("docker volume ls --format '{{.Name}}'").stdout.split() if engine else [],
        "units": host.exec("ls /etc/systemd/system/ | grep '^pypiserver'", check=False).stdout.split(),
        "claimed": host.exec(f"cat {STACK_MARKER}", check=False).stdout.strip(),
    }


def leave_empty(host: TestHost) -> None:
    """Leave a shared host as the next module expects it (host_state all empty): the units, containers,
    volumes (the retained ones and the backup cache included), networks and the stack's claim."""
    units = " ".join(UNITS)
    host.ssh(
        f"for u in {units}; do sudo -n systemctl disable --now $u.service; sudo -n rm -f /etc/systemd/system/$u.service; "
        f"done; docker rm -f {units}; docker volume rm {VOLUMES}; docker network rm {NETWORKS}; "
        f"sudo -n rm -f {STACK_MARKER}",
        check=False,
    )


@contextmanager
def destroyed(site_: Site) -> Iterator[Site]:
    """The site; afterwards, whatever the stack still has is destroyed (protected or not) and forgotten."""
    try:
        yield site_
    finally:
        site_.stack.unprotect_all()
        site_.stack.destroy(exclude_protected=False)
        site_.stack.remove()
