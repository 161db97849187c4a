"""The indexer: a container of the pypiserver image that keeps static PEP 503 pages for the store.

Its program is components/in_container/static_index.py and the modules beside it (standard library
only), delivered into the hooks volume with gunicorn's configuration (components/pypiserver/programs.py);
it reads the package volume and writes the pages volume, which the front server serves as files.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pulumi
import pulumi_docker as docker

from .. import volume_files
from ..in_container import static_index
from ..pypiserver import args as server_args
from ..scope import Scope
from ..store.mounts import INDEX_DIR, STORE_DIR
from ..store.volumes import Store, pages_volume
from .settings import IndexerSettings

NO_CAPABILITIES = docker.ContainerCapabilitiesArgs(drops=["ALL"])


def indexer_name(scope: Scope) -> str:
    return scope.docker_name("indexer")


def declare_yanked(
    scope: Scope,
    settings: IndexerSettings,
    image: docker.RemoteImage,
    image_ref: str,
    store: Store,
    after: Sequence[pulumi.Resource] = (),
) -> pulumi.Resource:
    """The yank list (PEP 592), as config says, into the pages volume: the indexer re-renders the
    pages when it changes. Nothing is deleted; un-yanking is removing the entry."""
    return scope.step(
        "yanked",
        volume_files.write_volume_file(pages_volume(scope), INDEX_DIR, static_index.YANKED_FILE, image_ref, 0),
        # After the canary: a new image runs nothing else until it has proved it starts.
        depends_on=[image, store.pages, *after],
        stdin=json.dumps(settings.yanked, sort_keys=True),
    )


def declare_indexer(
    scope: Scope,
    image: docker.RemoteImage,
    store: Store,
    max_upload_mb: int,
    program: str,
    after: Sequence[pulumi.Resource] = (),
) -> docker.Container:
    """`max_upload_mb`: the largest upload the front server lets through; the indexer keeps room for one.
    `program`: where the delivered programs put static_index.py (pypiserver's `indexer_program`)."""
    return scope.container(
        "indexer",
        128,
        depends_on=after,
        name=indexer_name(scope),
        image=image.image_id,
        entrypoints=[
            "python3",
            program,
            STORE_DIR,
            INDEX_DIR,
            # The largest upload the front server lets through, in bytes (Caddy's MB): uploads pause
            # while the disk could not take one and keep its margin.
            str(max_upload_mb * 1_000_000),
        ],
        user="0:0",  # writes into the root-owned pages volume; holds no capability at all
        capabilities=NO_CAPABILITIES,
        network_mode="none",
        mounts=[
            docker.ContainerMountArgs(type="volume", source=store.packages.name, target=STORE_DIR, read_only=True),
            docker.ContainerMountArgs(type="volume", source=store.pages.name, target=INDEX_DIR),
            docker.ContainerMountArgs(
                type="volume", source=store.hooks.name, target=server_args.HOOKS_DIR, read_only=True
            ),
        ],
    )
