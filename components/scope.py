"""What every part of the deployment shares: its name prefix, settings, target and parent component.

Each part (the package store, pypiserver, the front server, the indexer, supervision) lives in a
module of its own and declares its resources through a `Scope`, so they all get the same parent (and
so the same URNs as when one constructor declared everything), the same provider, and the same
container conventions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_docker as docker
from pulumi_command import local, remote

from .host import Target
from .settings import Settings

LOG_OPTS = {"max-size": "10m", "max-file": "5"}


@dataclass(frozen=True)
class Scope:
    name: str
    """The component's name: every child is named `<name>-<suffix>`."""
    settings: Settings
    target: Target
    parent: pulumi.Resource

    @property
    def systemd(self) -> bool:
        """Whether systemd supervises the containers (remote hosts) or Docker does (the local engine)."""
        return self.target.supervisor == "systemd"

    @property
    def ready(self) -> list[pulumi.Resource]:
        """What must exist before anything talks to Docker (the bootstrap, on a remote host)."""
        return list(self.target.ready)

    def opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self.parent, **kwargs)

    def child_name(self, suffix: str) -> str:
        return f"{self.name}-{suffix}"

    def image(self, suffix: str, ref: str) -> docker.RemoteImage:
        return docker.RemoteImage(
            self.child_name(suffix),
            name=ref,
            # Removing the image on replace or destroy would leave systemd nothing to restart.
            keep_locally=True,
            opts=self.opts(depends_on=self.ready),
        )

    def volume(self, suffix: str, volume_name: str, role: str, **kwargs: Any) -> docker.Volume:
        return docker.Volume(
            self.child_name(suffix),
            name=volume_name,
            labels=[docker.VolumeLabelArgs(label="pypi-index.role", value=role)],
            opts=self.opts(depends_on=self.ready, **kwargs),
        )

    def container(
        self, suffix: str, depends_on: Sequence[pulumi.Resource] | None = None, **kwargs: Any
    ) -> docker.Container:
        """What every container shares: one supervisor, log rotation, no privilege escalation."""
        return docker.Container(
            self.child_name(suffix),
            # One supervisor: under systemd, Docker must not restart the container behind its back.
            restart="no" if self.systemd else "unless-stopped",
            log_driver="json-file",
            log_opts=LOG_OPTS,
            security_opts=["no-new-privileges:true"],
            # Anonymous volumes go with their container (the Caddy image declares VOLUME /config,
            # which would otherwise pile up, one per replacement); named ones, the packages
            # included, never do: Docker only removes volumes that have no name.
            remove_volumes=True,
            destroy_grace_seconds=20,
            opts=self.opts(depends_on=list(depends_on or [])),
            **kwargs,
        )

    def step(
        self, suffix: str, script: str, depends_on: Sequence[pulumi.Resource] = (), **kwargs: Any
    ) -> local.Command | remote.Command:
        """A shell script run on the target (see `Target.step`)."""
        return self.target.step(self.child_name(suffix), script, opts=self.opts(depends_on=list(depends_on)), **kwargs)
