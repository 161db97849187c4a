"""PackageIndex: pypiserver behind a TLS front server, its package store, users, supervisor and health gate.

Three containers from two images, each part in a package of its own (its resources, and the texts
it sends to the host beside them):
- store/: the package volume and the other volumes and networks (what survives every update), and
  backups: encrypted restic snapshots off the host on a timer, and a restore into an empty store;
- pypiserver/: uploads and the rare dynamic page, on an internal network only, never published; its
  arguments, htpasswd file, canary and the programs it runs (delivered from in_container/);
- front/: the front server (Caddy), the only published ports: TLS, cached authentication, package
  files straight from the volume (read-only) and the indexer's static pages;
- indexer/: the pypiserver image running in_container/static_index.py, which writes PEP 503 pages;
- supervision/: systemd units (remote hosts) and the health gate every deploy must pass;
- host/ (built by __main__): the connection, the host guard and the bootstrap.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from .client_config import (
    index_url,
    render_pip_conf,
    render_poetry_source,
    render_pypirc,
    render_uv_index,
    upload_url,
)
from .front.resources import declare_ca_output, declare_front, front_name
from .front.settings import FrontSettings
from .host.target import Target
from .in_container.disk_watch import DISK_REPORT, WRITER_MARK
from .indexer.resources import declare_indexer, declare_yanked, indexer_name
from .pypiserver.resources import Credentials, declare_pypiserver
from .scope import Scope
from .settings import Settings
from .settings.ownership import access_file
from .store.backup import declare_backup
from .store.mounts import INDEX_DIR
from .store.volumes import declare_store
from .supervision.resources import declare_health_gate, declare_units, disk_line
from .supervision.scripts import IndexerReading


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


# The component's outputs, registered under these names (the stack's exports are set in __main__).
OUTPUTS = (
    "index_url", "upload_url", "pip_conf", "pypirc", "uv_index", "poetry_source",
    "ca_certificate", "container_name", "packages_volume", "disk_free",
)  # fmt: skip


class PackageIndex(pulumi.ComponentResource):
    index_url: pulumi.Output[str]
    upload_url: pulumi.Output[str]
    pip_conf: pulumi.Output[str]
    pypirc: pulumi.Output[str]
    uv_index: pulumi.Output[str]
    poetry_source: pulumi.Output[str]
    ca_certificate: pulumi.Output[str]
    container_name: pulumi.Output[str]
    packages_volume: pulumi.Output[str]
    disk_free: pulumi.Output[str]

    def __init__(self, name: str, args: PackageIndexArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("pypiserver:index:PackageIndex", name, None, opts)
        settings = args.settings
        scope = Scope(name, settings.container_name, args.target, self)

        store = declare_store(scope, settings.store, with_auth=args.htpasswd is not None)
        # Backups (a remote host only); a restore fills the empty store before any container starts.
        backup_settings = settings.store.backup
        backup = (
            declare_backup(scope, backup_settings, settings.store.packages_volume, store) if backup_settings else None
        )
        restored = backup.ready if backup else []
        pypiserver = settings.pypiserver
        image = scope.image("image", pypiserver.image.ref)
        credentials = (
            Credentials(settings.access.authenticate, args.htpasswd, settings.store.auth_volume)
            if args.htpasswd is not None
            else None
        )
        timeout = settings.supervision.health_timeout_seconds
        access = access_file(settings.access.owners, settings.access.uncovered, settings.access.expires)
        backend = declare_pypiserver(scope, pypiserver, image, store, credentials, timeout, access, after=restored)
        indexer = declare_indexer(
            scope,
            image,
            store,
            settings.front.max_upload_mb,
            backend.indexer_program,
            after=[*restored, backend.programs, backend.canary],
        )
        declare_yanked(scope, settings.indexer, image, pypiserver.image.ref, store, after=[backend.canary])
        front = declare_front(scope, settings.front, store, args.caddyfile, backend.container, after=restored)

        containers = {
            scope.container_name: (backend.container, "package index (pypiserver)"),
            indexer_name(scope): (indexer, "static index pages"),
            front_name(scope): (front.container, "front server (TLS, authentication)"),
        }
        gate_after: list[pulumi.Resource] = [c for c, _ in containers.values()]
        if scope.systemd:
            gate_after.append(declare_units(scope, containers))
        health = declare_health_gate(
            scope,
            settings.supervision,
            settings.front.domain,
            settings.front.https_port,
            [front_name(scope), scope.container_name, indexer_name(scope)],
            [backend.container, front.container, indexer],
            after=gate_after,
            indexer=IndexerReading(
                front_name(scope), f"{INDEX_DIR}/{DISK_REPORT}", f"{INDEX_DIR}/{WRITER_MARK}", indexer_name(scope)
            ),
        )
        # The store's free space as the deploy found it (the indexer's reading, which also decides
        # when uploads pause): `pulumi stack output diskFree`.
        self.disk_free = health.stdout.apply(disk_line)
        self.ca_certificate = declare_ca_output(scope, settings.front, front, health)

        self._client_outputs(settings.front)
        self.container_name = backend.container.name
        self.packages_volume = store.packages.name
        self.register_outputs({name: getattr(self, name) for name in OUTPUTS})

    def _client_outputs(self, settings: FrontSettings) -> None:
        """What users copy into their tools (client_config), none holding a password."""
        tls_ca_file = settings.tls == "internal"
        self.index_url = pulumi.Output.from_input(index_url(settings.public_url))
        self.upload_url = pulumi.Output.from_input(upload_url(settings.public_url))
        self.pip_conf = pulumi.Output.from_input(render_pip_conf(settings.public_url, tls_ca_file))
        self.pypirc = pulumi.Output.from_input(render_pypirc(settings.public_url, tls_ca_file))
        self.uv_index = pulumi.Output.from_input(render_uv_index(settings.public_url, tls_ca_file))
        self.poetry_source = pulumi.Output.from_input(render_poetry_source(settings.public_url, tls_ca_file))
