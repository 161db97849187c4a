"""What every part of the deployment shares: its names, target and parent component.

Each part (pypiserver, the front server, the indexer, the backup) is a component of its own and declares
its resources through a `Scope` whose parent is that component. Its resources keep the names they had
when one constructor declared everything, and an alias to that parent (`moved_from`), so an existing
stack's resources keep their identity: the engine matches them by the aliased URN and updates nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_docker as docker
from pulumi_command import local, remote

from .host.target import Target
from .store.labels import ROLE_LABEL


@dataclass(frozen=True)
class Scope:
    name: str
    """The component's name: every child is named `<name>-<suffix>`."""
    container_name: str
    """pypiserver's container, and the prefix of the other containers', networks' and volumes' Docker
    names (docker_name), except the package and credentials volumes, which are configured on their own."""
    target: Target
    parent: pulumi.Resource
    moved_from: pulumi.Resource | None = None
    """The component the part's resources were children of before it became a component itself."""

    @property
    def systemd(self) -> bool:
        """Whether systemd supervises the containers (remote hosts) or Docker does (the local engine)."""
        return self.target.supervisor == "systemd"

    @property
    def ready(self) -> list[pulumi.Resource]:
        """What must exist before anything talks to Docker (the bootstrap, on a remote host)."""
        return list(self.target.ready)

    def opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        aliases = [pulumi.Alias(parent=self.moved_from)] if self.moved_from is not None else None
        return pulumi.ResourceOptions(parent=self.parent, aliases=aliases, **kwargs)

    def part(self, component: pulumi.Resource) -> Scope:
        """The scope of a part declared as `component`, a child of this scope's parent, whose resources
        were this scope's own."""
        return Scope(self.name, self.container_name, self.target, component, moved_from=self.parent)

    def child_name(self, suffix: str) -> str:
        return f"{self.name}-{suffix}"

    def docker_name(self, suffix: str) -> str:
        """A container, volume or network of this deployment, as Docker names it."""
        return f"{self.container_name}-{suffix}"

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
            labels=[docker.VolumeLabelArgs(label=ROLE_LABEL, value=role)],
            opts=self.opts(depends_on=self.ready, **kwargs),
        )

    def container(
        self, suffix: str, memory_mb: int, depends_on: Sequence[pulumi.Resource] | None = None, **kwargs: Any
    ) -> docker.Container:
        """What every container shares: one supervisor, bounded logs, a memory limit, no privilege escalation.

        Each value is one the provider reads back unchanged from every engine, so a second `pulumi up`
        changes nothing (the provider stores what Docker reports after create, and diffs against it):
        - logs: the `local` driver, which rotates by itself (5 files of 20 MB, compressed), and no
          log_opts. When log_opts are set, the provider stores the daemon's merged map, which gains
          the daemon.json defaults, and log_opts force a new container: every `up` would replace it
          (terraform-provider-docker resource_docker_container_funcs.go, containerLogOptsForState).
          Unset, the stored value is nil whatever the daemon adds.
        - memory_swap -1 (no separate swap limit): where the kernel has no swap accounting Docker
          stores -1 whatever was asked (moby daemon_unix.go, verifyPlatformContainerResources), so
          any other value would show a change on every `up` of such a host.
        """
        return docker.Container(
            self.child_name(suffix),
            # One supervisor: under systemd, Docker must not restart the container behind its back.
            restart="no" if self.systemd else "unless-stopped",
            log_driver="local",
            memory=memory_mb,
            memory_swap=-1,
            security_opts=["no-new-privileges:true"],
            # Anonymous volumes go with their container (the pypiserver image declares VOLUME
            # /data/packages, so the indexer, which runs that image without mounting anything there,
            # would otherwise leave one behind per replacement); named ones, the packages included,
            # never do: Docker only removes volumes that have no name.
            remove_volumes=True,
            destroy_grace_seconds=20,
            opts=self.opts(
                depends_on=list(depends_on or []),
                # The provider neither recreates a container for a new healthcheck nor updates it in
                # place (resourceDockerContainerUpdate never reads it): only a replacement applies it.
                # Replacements that replaceOnChanges asks for are create-first unless told otherwise,
                # and two containers cannot share a name.
                replace_on_changes=["healthcheck"],
                delete_before_replace=True,
            ),
            **kwargs,
        )

    def step(
        self, suffix: str, script: str, depends_on: Sequence[pulumi.Resource] = (), **kwargs: Any
    ) -> local.Command | remote.Command:
        """A shell script run on the target (see `Target.step`)."""
        return self.target.step(self.child_name(suffix), script, opts=self.opts(depends_on=list(depends_on)), **kwargs)
