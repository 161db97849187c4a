"""pypiserver: its image, its credentials and its container, on the internal network only.

It takes uploads and the rare page the indexer has not written; the front server answers everything
else. It checks passwords itself too (from the htpasswd file in the auth volume).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from . import scripts, server_args
from .scope import Scope
from .settings import Settings
from .store import Store

# The image has python3 but no curl.
HEALTHCHECK = [
    "CMD",
    "python3",
    "-c",
    "import urllib.request; urllib.request.urlopen("
    f"'http://127.0.0.1:{server_args.PORT}{server_args.HEALTH_PATH}', timeout=4)",
]


@dataclass(frozen=True)
class Pypiserver:
    image: docker.RemoteImage
    """The pinned pypiserver image (the indexer and the volume writers run it too)."""
    container: docker.Container
    canary: pulumi.Resource
    """The new image and arguments, tried beside the running index: whatever runs the image waits for it."""


def declare_pypiserver(
    scope: Scope,
    image: docker.RemoteImage,
    store: Store,
    htpasswd: pulumi.Output[str] | None,
    after: Sequence[pulumi.Resource] = (),
) -> Pypiserver:
    settings = scope.settings
    mounts = [docker.ContainerMountArgs(type="volume", source=store.packages.name, target=server_args.PACKAGES_DIR)]
    credentials: list[pulumi.Resource] = []
    if htpasswd is not None:
        assert store.auth is not None, "an htpasswd file needs the auth volume"
        credentials.append(
            scope.step(
                "htpasswd",
                scripts.write_volume_file(
                    settings.auth_volume,
                    server_args.AUTH_DIR,
                    server_args.HTPASSWD.rsplit("/", 1)[1],
                    settings.image_ref,
                    server_args.PYPISERVER_UID,
                ),
                depends_on=[image, store.auth],
                stdin=htpasswd,
                secret=True,
            )
        )
        mounts.append(
            docker.ContainerMountArgs(
                type="volume", source=store.auth.name, target=server_args.AUTH_DIR, read_only=True
            )
        )
    # Before the provider deletes the running container (it always deletes first), the replacement is
    # tried on the side: a new image or new arguments that cannot start fail `pulumi up` here, while
    # the running index keeps serving downloads and uploads.
    command = server_args.run_args(settings)
    canary = scope.step(
        "canary",
        scripts.canary(
            settings.image_ref,
            command,
            [(m.source, m.target) for m in _volume_mounts(settings, with_auth=htpasswd is not None)],
            settings.memory_mb,
            HEALTHCHECK[1:],
            settings.health_timeout_seconds,
        ),
        depends_on=[image, store.packages, *([store.auth] if store.auth else []), *credentials, *after],
        # Run again whenever the container would be replaced for its image or its arguments.
        triggers=[image.image_id, json.dumps(command)],
    )
    container = scope.container(
        "container",
        settings.memory_mb,
        name=settings.container_name,
        image=image.image_id,
        command=command,
        networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=store.internal.name, aliases=["pypiserver"])],
        mounts=mounts,
        healthcheck=docker.ContainerHealthcheckArgs(
            tests=HEALTHCHECK, interval="15s", timeout="5s", retries=3, start_period="10s"
        ),
        depends_on=[*credentials, *after, canary],
    )
    return Pypiserver(image, container, canary)


@dataclass(frozen=True)
class _Mount:
    source: str
    target: str


def _volume_mounts(settings: Settings, with_auth: bool) -> list[_Mount]:
    """The named volumes pypiserver mounts, by Docker name (the canary mounts the same ones)."""
    mounts = [_Mount(settings.packages_volume, server_args.PACKAGES_DIR)]
    if with_auth:
        mounts.append(_Mount(settings.auth_volume, server_args.AUTH_DIR))
    return mounts
