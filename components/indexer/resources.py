"""The indexer as a component: a container of the pypiserver image that keeps static PEP 503 pages for
the store, in a pages volume of its own, and the yank list it renders them with.

Its program is components/in_container/static_index.py and the modules beside it (standard library
only), which pypiserver delivers with gunicorn's configuration, since both run the same image and share
the index's rules (components/pypiserver/programs.py). It reads the package volume and writes the pages
volume, which the front server serves as files.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from .. import volume_files
from ..in_container import static_index
from ..scope import Scope
from ..store.mounts import INDEX_DIR, STORE_DIR
from .settings import IndexerSettings

NO_CAPABILITIES = docker.ContainerCapabilitiesArgs(drops=["ALL"])


@dataclass(frozen=True)
class Programs:
    """The programs the indexer runs, as pypiserver delivered them."""

    volume: docker.Volume
    mount: str
    """Where the volume is mounted in the containers that run them."""
    indexer: str
    """The indexer's program, under `mount`."""
    delivered: pulumi.Resource


@dataclass(frozen=True)
class IndexerArgs:
    settings: IndexerSettings
    image: docker.RemoteImage
    """The pypiserver image: the indexer runs its Python."""
    image_ref: str
    packages: docker.Volume
    programs: Programs
    max_upload_mb: int
    """The largest upload the front server lets through; the indexer keeps room for one."""
    after: Sequence[pulumi.Resource] = ()
    """What the container waits for (a restore, pypiserver's canary)."""
    yanked_after: Sequence[pulumi.Resource] = ()
    """What the yank list waits for (the canary: a new image runs nothing until it has started)."""


class Indexer(pulumi.ComponentResource):
    pages: docker.Volume
    """The static pages, which the front server serves."""
    container: docker.Container
    name: str
    """The container's Docker name."""

    def __init__(self, scope: Scope, args: IndexerArgs):
        super().__init__("pypiserver:index:Indexer", scope.child_name("static-pages"), None, scope.opts())
        scope = scope.part(self)
        self.name = scope.docker_name("indexer")
        self.pages_name = scope.docker_name("pages")
        self.pages = scope.volume("pages", self.pages_name, "pages")
        self._declare_yanked(scope, args)
        self.container = scope.container(
            "indexer",
            128,
            depends_on=[args.programs.delivered, *args.after],
            name=self.name,
            image=args.image.image_id,
            entrypoints=[
                "python3",
                args.programs.indexer,
                STORE_DIR,
                INDEX_DIR,
                # The largest upload the front server lets through, in bytes (Caddy's MB): uploads pause
                # while the disk could not take one and keep its margin.
                str(args.max_upload_mb * 1_000_000),
            ],
            user="0:0",  # writes into the root-owned pages volume; holds no capability at all
            capabilities=NO_CAPABILITIES,
            network_mode="none",
            mounts=[
                docker.ContainerMountArgs(type="volume", source=args.packages.name, target=STORE_DIR, read_only=True),
                docker.ContainerMountArgs(type="volume", source=self.pages.name, target=INDEX_DIR),
                docker.ContainerMountArgs(
                    type="volume", source=args.programs.volume.name, target=args.programs.mount, read_only=True
                ),
            ],
        )
        self.register_outputs({"container": self.container.name})

    def _declare_yanked(self, scope: Scope, args: IndexerArgs) -> pulumi.Resource:
        """The yank list (PEP 592), as config says, into the pages volume: the indexer re-renders the
        pages when it changes. Nothing is deleted; un-yanking is removing the entry."""
        return scope.step(
            "yanked",
            volume_files.write_volume_file(self.pages_name, INDEX_DIR, static_index.YANKED_FILE, args.image_ref, 0),
            depends_on=[args.image, self.pages, *args.yanked_after],
            stdin=json.dumps(args.settings.yanked, sort_keys=True),
        )
