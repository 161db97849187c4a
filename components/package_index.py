"""PackageIndex: pypiserver in Docker, its package store, its users, its supervisor and its health gate."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from . import scripts, server_args
from .client_config import index_url, render_pip_conf, render_pypirc, render_uv_index, upload_url
from .host import Target
from .settings import Settings
from .systemd_unit import render_unit

# The image has python3 but no curl.
HEALTHCHECK = [
    "CMD",
    "python3",
    "-c",
    f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{server_args.PORT}{server_args.HEALTH_PATH}', timeout=4)",
]


@dataclass(frozen=True)
class PackageIndexArgs:
    settings: Settings
    """The validated stack settings."""
    target: Target
    """Where the index runs (Docker provider, shell steps, supervisor)."""
    htpasswd: pulumi.Output[str] | None
    """The rendered htpasswd file (secret), or None when nothing is protected."""


class PackageIndex(pulumi.ComponentResource):
    index_url: pulumi.Output[str]
    upload_url: pulumi.Output[str]
    pip_conf: pulumi.Output[str]
    pypirc: pulumi.Output[str]
    uv_index: pulumi.Output[str]
    container_name: pulumi.Output[str]
    packages_volume: pulumi.Output[str]

    def __init__(self, name: str, args: PackageIndexArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("pypiserver:index:PackageIndex", name, None, opts)
        settings, target = args.settings, args.target

        def child(**kwargs: object) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, **kwargs)  # type: ignore[arg-type]

        ready = list(target.ready)
        image = docker.RemoteImage(
            f"{name}-image",
            name=settings.image_ref,
            # Removing the image on replace or destroy would leave systemd nothing to restart.
            keep_locally=True,
            opts=child(depends_on=ready),
        )
        # The package store outlives everything else. `protect` makes a plain `pulumi destroy` and
        # any replacement refuse; `retain_on_delete` keeps the Docker volume even when the resource
        # leaves the stack (`pulumi destroy --exclude-protected`, or after an unprotect).
        packages = docker.Volume(
            f"{name}-packages",
            name=settings.packages_volume,
            labels=[docker.VolumeLabelArgs(label="pypi-index.role", value="packages")],
            opts=child(depends_on=ready, protect=settings.protect_packages, retain_on_delete=settings.protect_packages),
        )
        credentials: list[pulumi.Resource] = []
        mounts = [docker.ContainerMountArgs(type="volume", source=packages.name, target=server_args.PACKAGES_DIR)]
        if args.htpasswd is not None:
            auth = docker.Volume(
                f"{name}-auth",
                name=settings.auth_volume,
                labels=[docker.VolumeLabelArgs(label="pypi-index.role", value="auth")],
                opts=child(depends_on=ready),
            )
            htpasswd_file = target.step(
                f"{name}-htpasswd",
                scripts.write_htpasswd(settings.auth_volume, settings.image_ref),
                stdin=args.htpasswd,
                secret=True,
                opts=child(depends_on=[image, auth]),
            )
            credentials.append(htpasswd_file)
            mounts.append(
                docker.ContainerMountArgs(type="volume", source=auth.name, target=server_args.AUTH_DIR, read_only=True)
            )

        container = docker.Container(
            f"{name}-container",
            name=settings.container_name,
            image=image.image_id,
            command=server_args.run_args(settings),
            ports=[
                docker.ContainerPortArgs(
                    internal=server_args.PORT, external=settings.host_port, ip=settings.bind_address, protocol="tcp"
                )
            ],
            mounts=mounts,
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=HEALTHCHECK, interval="15s", timeout="5s", retries=3, start_period="10s"
            ),
            # One supervisor: under systemd, Docker must not restart the container behind its back.
            restart="no" if target.supervisor == "systemd" else "unless-stopped",
            log_driver="json-file",
            log_opts={"max-size": "10m", "max-file": "5"},
            memory=settings.memory_mb,
            memory_swap=settings.memory_mb,
            security_opts=["no-new-privileges:true"],
            # Named volumes are never removed with a container; say so rather than rely on a default.
            remove_volumes=False,
            destroy_grace_seconds=20,
            opts=child(depends_on=credentials),
        )

        gate_after: list[pulumi.Resource] = [container]
        if target.supervisor == "systemd":
            unit = target.step(
                f"{name}-unit",
                scripts.install_unit(render_unit(settings.container_name)),
                delete=scripts.remove_unit(),
                opts=child(depends_on=[container]),
            )
            gate_after.append(unit)
        target.step(
            f"{name}-health",
            scripts.health_gate(target.health_url, settings.container_name, settings.health_timeout_seconds),
            # A new container is checked again (a trigger replaces the step: create runs anew).
            triggers=[container.id],
            opts=child(depends_on=gate_after),
        )

        self.index_url = pulumi.Output.from_input(index_url(settings.public_url))
        self.upload_url = pulumi.Output.from_input(upload_url(settings.public_url))
        self.pip_conf = pulumi.Output.from_input(render_pip_conf(settings.public_url))
        self.pypirc = pulumi.Output.from_input(render_pypirc(settings.public_url))
        self.uv_index = pulumi.Output.from_input(render_uv_index(settings.public_url))
        self.container_name = container.name
        self.packages_volume = packages.name
        self.register_outputs(
            {
                "index_url": self.index_url,
                "upload_url": self.upload_url,
                "pip_conf": self.pip_conf,
                "pypirc": self.pypirc,
                "uv_index": self.uv_index,
                "container_name": self.container_name,
                "packages_volume": self.packages_volume,
            }
        )
