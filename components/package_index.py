"""PackageIndex: pypiserver behind a TLS front server, its package store, users, supervisor and health gate.

Three containers from two images, each part a component of its own in a package of its own (its
resources, its volumes, and the texts it sends to the host beside them), taking from the others only
the few things it needs, by name:
- store/: the package volume (what survives every update), and the Backup component: encrypted restic
  snapshots off the host on a timer, and a restore into an empty store;
- pypiserver/: the Pypiserver component: uploads and the rare dynamic page, on an internal network of
  its own, never published; its arguments, htpasswd file, canary and the programs it delivers (from
  in_container/);
- front/: the FrontServer component (Caddy), the only published ports: TLS, cached authentication,
  package files straight from the volume (read-only) and the indexer's static pages;
- indexer/: the Indexer component, the pypiserver image running in_container/static_index.py, which
  writes PEP 503 pages into its own volume;
- supervision/: systemd units (remote hosts) and the health gate every deploy must pass, declared here;
- host/ (connected by __main__): the connection, the host guard and the bootstrap, with the checks the
  parts hand it (preflight_checks).
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_docker as docker
from pulumi_command import local, remote

from .client_config import (
    index_url,
    render_pip_conf,
    render_poetry_source,
    render_pypirc,
    render_uv_index,
    upload_url,
)
from .front.resources import FrontArgs, FrontServer
from .front.settings import FrontSettings
from .host.target import Target
from .in_container.disk_watch import DISK_REPORT, WRITER_MARK
from .indexer.resources import Indexer, IndexerArgs, Programs
from .pypiserver import args as server_args
from .pypiserver.htpasswd import render_htpasswd
from .pypiserver.resources import Credentials, Pypiserver, PypiserverArgs
from .scope import Scope
from .scrape_job import render_scrape_job
from .settings import Settings
from .settings.ownership import access_file
from .store import backup
from .store.backup import Backup, BackupArgs
from .store.mounts import INDEX_DIR
from .store.volumes import Store, declare_store
from .supervision.resources import declare_health_gate, declare_units, disk_line
from .supervision.scripts import IndexerReading
from .users import declare_hashes


def preflight_checks(settings: Settings) -> list[str]:
    """The read-only checks the parts hand the host, run before it is claimed or changed (host.connect)."""
    return backup.preflight_checks(settings.store.backup)


OUTPUTS = {
    "index_url": "indexUrl", "upload_url": "uploadUrl", "pip_conf": "pipConf", "pypirc": "pypirc",
    "uv_index": "uvIndex", "poetry_source": "poetrySource", "ca_certificate": "caCertificate",
    "container_name": "containerName", "packages_volume": "packagesVolume", "disk_free": "diskFree",
    "scrape_job": "scrapeJob",
}  # fmt: skip
"""The component's outputs, by attribute, and the stack output each becomes (`pulumi stack output NAME`)."""


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
    scrape_job: pulumi.Output[str]

    def __init__(self, name: str, settings: Settings, target: Target, opts: pulumi.ResourceOptions | None = None):
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(providers=[target.docker]))
        super().__init__("pypiserver:index:PackageIndex", name, None, opts)
        scope = Scope(name, settings.container_name, target, self)
        hashes = declare_hashes(settings.access, settings.stack)
        store = declare_store(scope, settings.store)
        # Backups (a remote host only); a restore fills the empty store before any container starts.
        backup = settings.store.backup
        restored = (
            Backup(scope, BackupArgs(backup, store.names, [store.packages, store.front_data])).ready if backup else []
        )
        server = Pypiserver(scope, _pypiserver_args(settings, store, hashes, restored))
        indexer = Indexer(
            scope,
            IndexerArgs(
                settings.indexer,
                server.image,
                settings.pypiserver.image.ref,
                store.packages,
                Programs(server.hooks, server_args.HOOKS_DIR, server.indexer_program, server.programs),
                settings.front.max_upload_mb,
                after=[*restored, server.canary],
                yanked_after=[server.canary],
            ),
        )
        front = FrontServer(
            scope,
            FrontArgs(
                settings.front,
                settings.access,
                hashes,
                settings.pypiserver.fallback_url,
                store.packages,
                store.front_data,
                indexer.pages,
                server.container,
                server.network,
                after=restored,
            ),
        )
        containers = {
            scope.container_name: (server.container, "package index (pypiserver)"),
            indexer.name: (indexer.container, "static index pages"),
            front.name: (front.container, "front server (TLS, authentication)"),
        }
        health = _supervise(scope, settings, containers, IndexerReading(
            front.name, f"{INDEX_DIR}/{DISK_REPORT}", f"{INDEX_DIR}/{WRITER_MARK}", indexer.name
        ))  # fmt: skip
        # The store's free space as the deploy found it (the indexer's reading, which also decides
        # when uploads pause): `pulumi stack output diskFree`.
        self.disk_free = health.stdout.apply(disk_line)
        self.ca_certificate = front.ca_certificate(health)

        self._client_outputs(settings.front)
        metrics_user = next(iter(settings.access.metrics_users), None)
        self.scrape_job = pulumi.Output.from_input(
            render_scrape_job(settings.front.public_url, settings.front.tls == "internal", metrics_user)
        )
        self.container_name = server.container.name
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


def _pypiserver_args(
    settings: Settings, store: Store, hashes: pulumi.Output[Mapping[str, str]], restored: list[pulumi.Resource]
) -> PypiserverArgs:
    access = settings.access
    credentials = (
        Credentials(
            access.authenticate,
            # pypiserver checks uploads itself, so its file names only the users who may upload.
            hashes.apply(lambda h: render_htpasswd({u: h[u] for u in access.uploaders})),
            settings.store.auth_volume,
        )
        if access.authenticate
        else None
    )
    return PypiserverArgs(
        settings.pypiserver,
        store.packages,
        credentials,
        settings.supervision.health_timeout_seconds,
        access_file(access.owners, access.uncovered, access.expires, access.statuses),
        after=restored,
    )


def _supervise(
    scope: Scope, settings: Settings, containers: dict[str, tuple[docker.Container, str]], indexer: IndexerReading
) -> local.Command | remote.Command:
    """systemd's units (remote hosts), then the health gate every deploy must pass, through the front
    server's published port as clients see it. `containers`: Docker name -> (container, role); a failed
    gate shows them in that order, front server first."""
    gate_after: list[pulumi.Resource] = [c for c, _ in containers.values()]
    if scope.systemd:
        gate_after.append(declare_units(scope, containers))
    return declare_health_gate(
        scope,
        settings.supervision,
        settings.front,
        [indexer.reader, scope.container_name, indexer.container],
        # The order the gate's triggers have always had: a new order would be a new trigger, and rerun it.
        [containers[name][0] for name in (scope.container_name, indexer.reader, indexer.container)],
        after=gate_after,
        indexer=indexer,
    )
