"""The indexer: a container of the pypiserver image that keeps static PEP 503 pages for the store.

Its program is components/static_index.py (standard library only); it reads the package volume and
writes the pages volume, which the front server serves as files.
"""

from __future__ import annotations

import inspect

import pulumi_docker as docker

from . import server_args, static_index
from .scope import Scope
from .settings import Settings
from .store import Store

INDEX_DIR = "/srv/index"
# While a volume is empty, Docker copies the image's mount point (ownership included) into it for
# every container that mounts it: the front server's and indexer's images would hand the package
# volume back to root after pypiserver's entrypoint gave it to uid 9898. Only pypiserver copies.
NO_COPY = docker.ContainerMountVolumeOptionsArgs(no_copy=True)
NO_CAPABILITIES = docker.ContainerCapabilitiesArgs(drops=["ALL"])


def indexer_name(settings: Settings) -> str:
    return f"{settings.container_name}-indexer"


def declare_indexer(scope: Scope, image: docker.RemoteImage, store: Store) -> docker.Container:
    return scope.container(
        "indexer",
        name=indexer_name(scope.settings),
        image=image.image_id,
        entrypoints=["python3", "-c", inspect.getsource(static_index), server_args.PACKAGES_DIR, INDEX_DIR],
        user="0:0",  # writes into the root-owned pages volume; holds no capability at all
        capabilities=NO_CAPABILITIES,
        network_mode="none",
        mounts=[
            docker.ContainerMountArgs(
                type="volume",
                source=store.packages.name,
                target=server_args.PACKAGES_DIR,
                read_only=True,
                volume_options=NO_COPY,
            ),
            docker.ContainerMountArgs(type="volume", source=store.pages.name, target=INDEX_DIR, volume_options=NO_COPY),
        ],
        memory=128,
        memory_swap=128,
    )
