"""Where the index runs: the Docker provider and the way shell steps reach the machine.

Built once by `__main__` and handed to the components. Two targets:
- `ssh`: a remote host. A guard step checks it is the host this stack deployed to (or claims a fresh
  one), a bootstrap step installs a supported Docker if needed, then the Docker provider talks to
  it as `ssh://user@host:port`. Both SSH paths verify the host's key: pulumi-command with `host_key`,
  the Docker provider (which runs the local OpenSSH client) with options that accept only the pinned
  key. systemd supervises the container.
- `local`: this machine's Docker engine, no SSH and no root. Docker's restart policy supervises.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker
from pulumi_command import local, remote

from . import scripts
from .settings import HostSettings, SshSettings


def known_hosts_pattern(ssh: SshSettings) -> str:
    """known_hosts names a host on a non-standard port as [host]:port."""
    return ssh.host if ssh.port == 22 else f"[{ssh.host}]:{ssh.port}"


def docker_ssh_opts(ssh: SshSettings) -> list[str]:
    """OpenSSH options for the Docker provider's `ssh ... docker system dial-stdio`.

    The pinned key is the ONLY one accepted: the user's and the system's known_hosts are ignored, and
    KnownHostsCommand (OpenSSH >= 8.5) supplies the pinned line without writing a file anywhere.
    """
    common = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=15"]
    if ssh.skip_host_key_check:
        return [*common, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
    return [
        *common,
        "-o", "StrictHostKeyChecking=yes",
        "-o", "UserKnownHostsFile=/dev/null",
        "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", f"KnownHostsCommand=/bin/echo {known_hosts_pattern(ssh)} {ssh.host_key}",
    ]  # fmt: skip


@dataclass(frozen=True)
class Target:
    """A machine that runs the index: its Docker provider and how shell steps reach it."""

    docker: docker.Provider
    supervisor: str
    """`systemd` (remote hosts) or `docker` (the local engine's restart policy)."""
    connection: remote.ConnectionArgs | None = None
    ready: Sequence[pulumi.Resource] = field(default_factory=tuple)
    """Resources that must exist before anything talks to Docker (the bootstrap)."""
    docker_host: str | None = None
    """For local steps: the engine the Docker provider uses, when it is not Docker's default."""

    def step(
        self,
        name: str,
        script: str,
        opts: pulumi.ResourceOptions,
        stdin: pulumi.Input[str] | None = None,
        delete: str | None = None,
        triggers: Sequence[pulumi.Input[object]] | None = None,
        secret: bool = False,
    ) -> local.Command | remote.Command:
        """A shell script run on the target. With `secret`, nothing it prints is logged or kept in clear."""
        if secret:
            opts = pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(additional_secret_outputs=["stdin", "stdout", "stderr"])
            )
        create = scripts.as_command(script)
        on_delete = scripts.as_command(delete) if delete else None
        logging = "none" if secret else "stdoutAndStderr"
        if self.connection is None:
            return local.Command(
                name,
                create=create,
                delete=on_delete,
                stdin=stdin,
                triggers=triggers,
                # The steps' docker CLI must talk to the engine the provider talks to.
                environment={"DOCKER_HOST": self.docker_host} if self.docker_host else None,
                logging=local.Logging(logging),
                add_previous_output_in_env=False,
                opts=opts,
            )
        return remote.Command(
            name,
            connection=self.connection,
            create=create,
            delete=on_delete,
            stdin=stdin,
            triggers=triggers,
            logging=remote.Logging(logging),
            add_previous_output_in_env=False,
            opts=opts,
        )


def connect(settings: HostSettings, stack_name: str, checks: Sequence[str] = ()) -> Target:
    """Build the target for this stack: providers are made once, here. `checks`: read-only shell checks
    the other parts hand the host (package_index.preflight_checks), run before it is claimed or changed."""
    if settings.ssh is None:
        return Target(
            docker=docker.Provider("docker-local", host=settings.docker_host),
            docker_host=settings.docker_host,
            supervisor="docker",
        )
    ssh = settings.ssh
    connection = remote.ConnectionArgs(
        host=ssh.host,
        port=ssh.port,
        user=ssh.user,
        host_key=ssh.host_key,
        private_key=pulumi.Output.secret(ssh.private_key) if ssh.private_key else None,
        dial_error_limit=3,
        per_dial_timeout=15,
    )
    stack = f"{pulumi.get_project()}/{stack_name}"
    # Before anything else, and before the host is claimed: every check that can refuse the deploy
    # without changing the host (its installed engine, what other parts hand it).
    preflight = scripts.engine_floor_check() + "".join(checks)
    # First of all: this must be the host the stack's state describes (see scripts.host_guard_update).
    # Its `update` runs, on the new connection, whenever the connection or a check changes.
    guard = remote.Command(
        "host-guard",
        connection=connection,
        create=scripts.as_command(scripts.host_guard_create(stack, preflight)),
        update=scripts.as_command(scripts.host_guard_update(stack, preflight)),
        delete=scripts.as_command(scripts.host_guard_delete()),
        add_previous_output_in_env=False,
    )
    bootstrap = remote.Command(
        "docker-bootstrap",
        connection=connection,
        create=scripts.as_command(scripts.docker_bootstrap()),
        add_previous_output_in_env=False,
        opts=pulumi.ResourceOptions(depends_on=[guard]),
    )
    provider = docker.Provider(
        "docker-remote",
        host=f"ssh://{ssh.user}@{ssh.host}:{ssh.port}",
        ssh_opts=docker_ssh_opts(ssh),
        opts=pulumi.ResourceOptions(depends_on=[bootstrap]),
    )
    return Target(
        docker=provider,
        supervisor="systemd",
        connection=connection,
        ready=(bootstrap,),
    )
