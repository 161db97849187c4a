"""PackageIndex: pypiserver behind a TLS front server, its package store, users, supervisor and health gate.

Three containers from two images:
- pypiserver: uploads and the rare dynamic page; on an internal network only, never published.
- the front server (Caddy): the only published ports; TLS, cached authentication, package files
  straight from the volume (read-only) and the indexer's static pages.
- the indexer (the pypiserver image running components/static_index.py): PEP 503 pages for the store.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_docker as docker

from . import caddyfile, scripts, server_args, static_index
from .client_config import index_url, render_pip_conf, render_pypirc, render_uv_index, upload_url
from .host import Target
from .settings import Settings
from .systemd_unit import render_unit

# The image has python3 but no curl.
HEALTHCHECK = [
    "CMD",
    "python3",
    "-c",
    "import urllib.request; urllib.request.urlopen("
    f"'http://127.0.0.1:{server_args.PORT}{server_args.HEALTH_PATH}', timeout=4)",
]
INDEX_DIR = "/srv/index"
LOG_OPTS = {"max-size": "10m", "max-file": "5"}
# The front server binds 80/443 inside its container; nothing else needs a capability.
FRONT_CAPABILITIES = docker.ContainerCapabilitiesArgs(drops=["ALL"], adds=["NET_BIND_SERVICE"])
NO_CAPABILITIES = docker.ContainerCapabilitiesArgs(drops=["ALL"])
# While a volume is empty, Docker copies the image's mount point (ownership included) into it for
# every container that mounts it: the front server's and indexer's images would hand the package
# volume back to root after pypiserver's entrypoint gave it to uid 9898. Only pypiserver copies.
NO_COPY = docker.ContainerMountVolumeOptionsArgs(no_copy=True)


@dataclass(frozen=True)
class PackageIndexArgs:
    settings: Settings
    """The validated stack settings."""
    target: Target
    """Where the index runs (Docker provider, shell steps, supervisor)."""
    htpasswd: pulumi.Output[str] | None
    """pypiserver's htpasswd file (secret), or None when nothing is protected."""
    caddyfile: pulumi.Output[str]
    """The front server's configuration (secret: it holds the users' hashes)."""


class PackageIndex(pulumi.ComponentResource):
    index_url: pulumi.Output[str]
    upload_url: pulumi.Output[str]
    pip_conf: pulumi.Output[str]
    pypirc: pulumi.Output[str]
    uv_index: pulumi.Output[str]
    ca_certificate: pulumi.Output[str]
    container_name: pulumi.Output[str]
    packages_volume: pulumi.Output[str]

    def __init__(self, name: str, args: PackageIndexArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("pypiserver:index:PackageIndex", name, None, opts)
        settings, target = args.settings, args.target
        backend_name = settings.container_name
        front_name, indexer_name = f"{backend_name}-front", f"{backend_name}-indexer"
        systemd = target.supervisor == "systemd"

        def child(**kwargs: object) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, **kwargs)  # type: ignore[arg-type]

        def volume(suffix: str, volume_name: str, role: str, **kwargs: object) -> docker.Volume:
            return docker.Volume(
                f"{name}-{suffix}",
                name=volume_name,
                labels=[docker.VolumeLabelArgs(label="pypi-index.role", value=role)],
                opts=child(depends_on=list(target.ready), **kwargs),
            )

        def container(suffix: str, depends_on: list[pulumi.Resource] | None = None, **kwargs: Any) -> docker.Container:
            """What every container shares: one supervisor, log rotation, no privilege escalation."""
            return docker.Container(
                f"{name}-{suffix}",
                # One supervisor: under systemd, Docker must not restart the container behind its back.
                restart="no" if systemd else "unless-stopped",
                log_driver="json-file",
                log_opts=LOG_OPTS,
                security_opts=["no-new-privileges:true"],
                # Anonymous volumes go with their container (the Caddy image declares VOLUME /config,
                # which would otherwise pile up, one per replacement); named ones, the packages
                # included, never do: Docker only removes volumes that have no name.
                remove_volumes=True,
                destroy_grace_seconds=20,
                opts=child(depends_on=depends_on),
                **kwargs,
            )

        ready = list(target.ready)
        image = docker.RemoteImage(
            f"{name}-image",
            name=settings.image_ref,
            # Removing the image on replace or destroy would leave systemd nothing to restart.
            keep_locally=True,
            opts=child(depends_on=ready),
        )
        front_image = docker.RemoteImage(
            f"{name}-front-image", name=settings.front_image_ref, keep_locally=True, opts=child(depends_on=ready)
        )
        # The package store outlives everything else. `protect` makes a plain `pulumi destroy` and
        # any replacement refuse; `retain_on_delete` keeps the Docker volume even when the resource
        # leaves the stack (`pulumi destroy --exclude-protected`, or after an unprotect).
        packages = volume(
            "packages",
            settings.packages_volume,
            "packages",
            protect=settings.protect_packages,
            retain_on_delete=settings.protect_packages,
        )
        pages = volume("pages", f"{backend_name}-pages", "pages")
        front_config_name = f"{backend_name}-front-config"
        front_config = volume("front-config", front_config_name, "front-config")
        # Certificates, the internal CA and ACME account keys: losing them means new certificates
        # (clients must then trust a new CA), so they are kept like the packages.
        front_data = volume(
            "front-data",
            f"{backend_name}-front-data",
            "front-data",
            protect=settings.protect_packages,
            retain_on_delete=settings.protect_packages,
        )
        internal = docker.Network(
            f"{name}-internal",
            name=f"{backend_name}-internal",
            # No way in or out except through the front server: pypiserver is never published.
            internal=True,
            opts=child(depends_on=ready),
        )
        public = docker.Network(f"{name}-public", name=f"{backend_name}-public", opts=child(depends_on=ready))

        backend_mounts = [
            docker.ContainerMountArgs(type="volume", source=packages.name, target=server_args.PACKAGES_DIR)
        ]
        credentials: list[pulumi.Resource] = []
        if args.htpasswd is not None:
            auth = volume("auth", settings.auth_volume, "auth")
            credentials.append(
                target.step(
                    f"{name}-htpasswd",
                    scripts.write_volume_file(
                        settings.auth_volume,
                        server_args.AUTH_DIR,
                        server_args.HTPASSWD.rsplit("/", 1)[1],
                        settings.image_ref,
                        server_args.PYPISERVER_UID,
                    ),
                    stdin=args.htpasswd,
                    secret=True,
                    opts=child(depends_on=[image, auth]),
                )
            )
            backend_mounts.append(
                docker.ContainerMountArgs(type="volume", source=auth.name, target=server_args.AUTH_DIR, read_only=True)
            )

        backend = container(
            "container",
            name=backend_name,
            image=image.image_id,
            command=server_args.run_args(settings),
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=internal.name, aliases=["pypiserver"])],
            mounts=backend_mounts,
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=HEALTHCHECK, interval="15s", timeout="5s", retries=3, start_period="10s"
            ),
            memory=settings.memory_mb,
            memory_swap=settings.memory_mb,
            depends_on=credentials,
        )
        indexer = container(
            "indexer",
            name=indexer_name,
            image=image.image_id,
            entrypoints=["python3", "-c", inspect.getsource(static_index), server_args.PACKAGES_DIR, INDEX_DIR],
            user="0:0",  # writes into the root-owned pages volume; holds no capability at all
            capabilities=NO_CAPABILITIES,
            network_mode="none",
            mounts=[
                docker.ContainerMountArgs(
                    type="volume",
                    source=packages.name,
                    target=server_args.PACKAGES_DIR,
                    read_only=True,
                    volume_options=NO_COPY,
                ),
                docker.ContainerMountArgs(type="volume", source=pages.name, target=INDEX_DIR, volume_options=NO_COPY),
            ],
            memory=128,
            memory_swap=128,
        )

        def front_file(
            suffix: str, path: str, content: pulumi.Input[str], then: str = "", after: Sequence[pulumi.Resource] = ()
        ) -> pulumi.Resource:
            """A file in the front server's config volume (secret: the Caddyfile holds hashes, tls/ a key)."""
            return target.step(
                f"{name}-{suffix}",
                scripts.write_volume_file(
                    front_config_name,
                    caddyfile.CONFIG_DIR,
                    path.removeprefix(caddyfile.CONFIG_DIR + "/"),
                    settings.front_image_ref,
                    0,
                    then=then,
                ),
                stdin=content,
                secret=True,
                opts=child(depends_on=[front_image, front_config, *after]),
            )

        tls_files: list[pulumi.Resource] = []
        if settings.tls == "supplied":
            tls_files = [
                front_file("tls-cert", caddyfile.CERT_FILE, settings.tls_certificate or ""),
                front_file("tls-key", caddyfile.KEY_FILE, pulumi.Output.secret(settings.tls_key or "")),
            ]
        # Written last and the only one that reloads: Caddy does not watch its files. A rotated
        # certificate changes the Caddyfile too (it names the certificate's fingerprint), so the reload
        # happens once, after both new files are in place.
        front_files = [
            *tls_files,
            front_file(
                "caddyfile",
                caddyfile.CADDYFILE,
                args.caddyfile,
                then=scripts.reload_front(front_name, caddyfile.CADDYFILE),
                after=tls_files,
            ),
        ]
        ports = [
            docker.ContainerPortArgs(
                internal=caddyfile.INNER_HTTPS, external=settings.https_port, ip=settings.bind_address, protocol="tcp"
            )
        ]
        if settings.http_port:
            ports.append(
                docker.ContainerPortArgs(
                    internal=caddyfile.INNER_HTTP, external=settings.http_port, ip=settings.bind_address, protocol="tcp"
                )
            )
        front = container(
            "front",
            name=front_name,
            image=front_image.image_id,
            ports=ports,
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=public.name),
                docker.ContainerNetworksAdvancedArgs(name=internal.name),
            ],
            mounts=[
                docker.ContainerMountArgs(
                    type="volume", source=front_config.name, target=caddyfile.CONFIG_DIR, read_only=True
                ),
                docker.ContainerMountArgs(type="volume", source=front_data.name, target=caddyfile.DATA_DIR),
                docker.ContainerMountArgs(
                    type="volume",
                    source=packages.name,
                    target=f"{caddyfile.PACKAGES_ROOT}/packages",
                    read_only=True,
                    volume_options=NO_COPY,
                ),
                docker.ContainerMountArgs(
                    type="volume", source=pages.name, target=INDEX_DIR, read_only=True, volume_options=NO_COPY
                ),
            ],
            capabilities=FRONT_CAPABILITIES,
            memory=128,
            memory_swap=128,
            depends_on=[*front_files, backend],
        )

        gate_after: list[pulumi.Resource] = [backend, indexer, front]
        if systemd:
            units = {
                backend_name: render_unit(backend_name, "package index (pypiserver)"),
                indexer_name: render_unit(indexer_name, "static index pages"),
                front_name: render_unit(front_name, "front server (TLS, authentication)"),
            }
            gate_after.append(
                target.step(
                    f"{name}-unit",
                    scripts.install_units(units),
                    delete=scripts.remove_units(list(units)),
                    opts=child(depends_on=[backend, indexer, front]),
                )
            )
        health = target.step(
            f"{name}-health",
            scripts.health_gate(
                settings.domain,
                settings.https_port,
                target.address,
                [front_name, backend_name, indexer_name],
                settings.health_timeout_seconds,
            ),
            # A new container is checked again (a trigger replaces the step: create runs anew).
            triggers=[backend.id, front.id, indexer.id],
            opts=child(depends_on=gate_after),
        )
        if settings.tls == "internal":
            ca = target.step(
                f"{name}-ca",
                scripts.read_file_in(front_name, caddyfile.CA_CERT),
                triggers=[front.id],
                opts=child(depends_on=[health]),
            )
            self.ca_certificate = ca.stdout  # type: ignore[attr-defined]
        else:
            self.ca_certificate = pulumi.Output.from_input("")

        tls_ca_file = settings.tls == "internal"
        self.index_url = pulumi.Output.from_input(index_url(settings.public_url))
        self.upload_url = pulumi.Output.from_input(upload_url(settings.public_url))
        self.pip_conf = pulumi.Output.from_input(render_pip_conf(settings.public_url, tls_ca_file))
        self.pypirc = pulumi.Output.from_input(render_pypirc(settings.public_url, tls_ca_file))
        self.uv_index = pulumi.Output.from_input(render_uv_index(settings.public_url, tls_ca_file))
        self.container_name = backend.name
        self.packages_volume = packages.name
        self.register_outputs(
            {
                "index_url": self.index_url,
                "upload_url": self.upload_url,
                "pip_conf": self.pip_conf,
                "pypirc": self.pypirc,
                "uv_index": self.uv_index,
                "ca_certificate": self.ca_certificate,
                "container_name": self.container_name,
                "packages_volume": self.packages_volume,
            }
        )
