"""Who keeps the containers running, and the gate that fails a deploy which does not answer healthy.

On a remote host systemd supervises (one unit per container, see systemd_unit.py); on the local
engine Docker's restart policy does. Either way the health gate runs last, through the front
server's published port, as clients see it.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_docker as docker
from pulumi_command import local, remote

from ..front.settings import FrontSettings
from ..scope import Scope
from . import scripts
from .settings import SupervisionSettings
from .systemd_unit import render_unit


def declare_units(scope: Scope, containers: Mapping[str, tuple[docker.Container, str]]) -> pulumi.Resource:
    """Install and start a unit per container (container name -> (container, role)); removed on destroy."""
    units = {name: render_unit(name, role) for name, (_, role) in containers.items()}
    return scope.step(
        "unit",
        scripts.install_units(units),
        depends_on=[container for container, _ in containers.values()],
        delete=scripts.remove_units(list(units)),
    )


def declare_health_gate(
    scope: Scope,
    settings: SupervisionSettings,
    front: FrontSettings,
    diagnose: list[str],
    containers: list[docker.Container],
    after: list[pulumi.Resource],
    indexer: scripts.IndexerReading,
) -> local.Command | remote.Command:
    """`diagnose`: the containers whose state and logs a failure shows, in that order. `indexer`: where
    the store's disk reading is and which indexer must have written it; the gate's last line repeats it.
    `front`: where clients reach the front server; the gate asks as they do, at the host's own side of
    the published port (FrontSettings.address)."""
    return scope.step(
        "health",
        scripts.health_gate(
            front.domain,
            front.https_port,
            front.address,
            diagnose,
            settings.health_timeout_seconds,
            indexer,
        ),
        # A new container is checked again (a trigger replaces the step: create runs anew).
        triggers=[c.id for c in containers],
        depends_on=after,
    )


def disk_line(stdout: str) -> str:
    """The health gate's last line, `disk: <reading>`, without its label ("" before a deploy)."""
    last = stdout.strip().splitlines()[-1] if stdout.strip() else ""
    return last.removeprefix("disk: ") if last.startswith("disk: ") else ""
