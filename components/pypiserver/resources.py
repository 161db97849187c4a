"""pypiserver: its image, its credentials, its gunicorn configuration and its container, on the internal network only.

It takes uploads and the rare page the indexer has not written; the front server answers everything
else. It checks passwords itself too (from the htpasswd file in the auth volume).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from .. import volume_files
from ..scope import Scope
from ..store.volumes import Store, hooks_volume
from . import args as server_args
from . import programs as program_files
from .canary import canary_script
from .settings import PypiserverSettings

# The image has python3 but no curl.
HEALTHCHECK = [
    "CMD",
    "python3",
    "-c",
    "import urllib.request; urllib.request.urlopen("
    f"'http://127.0.0.1:{server_args.PORT}{server_args.HEALTH_PATH}', timeout=4)",
]


@dataclass(frozen=True)
class Credentials:
    """What pypiserver checks uploads against, when anything is protected."""

    authenticate: tuple[str, ...]
    """The protected actions."""
    htpasswd: pulumi.Output[str]
    """The uploaders' hashes (secret)."""
    volume: str
    """The Docker name of the volume that holds them (the store's auth volume)."""


@dataclass(frozen=True)
class Pypiserver:
    image: docker.RemoteImage
    """The pinned pypiserver image (the indexer and the volume writers run it too)."""
    container: docker.Container
    canary: pulumi.Resource
    """The new image and arguments, tried beside the running index: whatever runs the image waits for it."""
    programs: pulumi.Resource
    """The programs delivered into the hooks volume (program_files): the indexer runs one of them."""
    indexer_program: str
    """Where the indexer's program is in the hooks volume (in the folder the programs went into)."""


def declare_pypiserver(
    scope: Scope,
    settings: PypiserverSettings,
    image: docker.RemoteImage,
    store: Store,
    credentials: Credentials | None,
    health_timeout_seconds: int,
    access: str,
    after: Sequence[pulumi.Resource] = (),
) -> Pypiserver:
    """`health_timeout_seconds`: how long the canary may take to answer healthy; `access`, the text of
    access.json (who may publish what), delivered with the programs."""
    mounts = [
        docker.ContainerMountArgs(type="volume", source=store.packages.name, target=server_args.PACKAGES_DIR),
        docker.ContainerMountArgs(type="volume", source=store.hooks.name, target=server_args.HOOKS_DIR, read_only=True),
    ]
    programs = declare_programs(scope, settings, image, store, access)
    prepared: list[pulumi.Resource] = [programs]
    if credentials is not None:
        assert store.auth is not None, "an htpasswd file needs the auth volume"
        prepared.append(_declare_htpasswd(scope, settings, image, store.auth, credentials))
        mounts.append(
            docker.ContainerMountArgs(
                type="volume", source=store.auth.name, target=server_args.AUTH_DIR, read_only=True
            )
        )
    authenticate = credentials.authenticate if credentials else ()
    command = server_args.run_args(settings, authenticate)
    env = server_args.run_env(settings, program_files.gunicorn_config(access))
    canary = _declare_canary(
        scope,
        settings,
        image,
        store,
        command=command,
        env=env,
        credentials=credentials,
        timeout_seconds=health_timeout_seconds,
        after=[*prepared, *after],
    )
    container = scope.container(
        "container",
        settings.memory_mb,
        name=scope.container_name,
        image=image.image_id,
        command=command,
        envs=env,
        networks_advanced=[
            docker.ContainerNetworksAdvancedArgs(name=store.internal.name, aliases=[server_args.NETWORK_ALIAS])
        ],
        mounts=mounts,
        healthcheck=docker.ContainerHealthcheckArgs(
            tests=HEALTHCHECK, interval="15s", timeout="5s", retries=3, start_period="10s"
        ),
        depends_on=[*prepared, *after, canary],
    )
    return Pypiserver(image, container, canary, programs, program_files.indexer_program(access))


def _declare_htpasswd(
    scope: Scope,
    settings: PypiserverSettings,
    image: docker.RemoteImage,
    auth: docker.Volume,
    credentials: Credentials,
) -> pulumi.Resource:
    """The users' hashes into the auth volume (a secret step: the text never shows in clear)."""
    return scope.step(
        "htpasswd",
        volume_files.write_volume_file(
            credentials.volume,
            server_args.AUTH_DIR,
            server_args.HTPASSWD.rsplit("/", 1)[1],
            settings.image.ref,
            server_args.PYPISERVER_UID,
        ),
        depends_on=[image, auth],
        stdin=credentials.htpasswd,
        secret=True,
    )


def _declare_canary(
    scope: Scope,
    settings: PypiserverSettings,
    image: docker.RemoteImage,
    store: Store,
    *,
    command: list[str],
    env: list[str],
    credentials: Credentials | None,
    timeout_seconds: int,
    after: Sequence[pulumi.Resource],
) -> pulumi.Resource:
    """Before the provider deletes the running container (it always deletes first), the replacement is
    tried on the side: a new image or new arguments that cannot start fail `pulumi up` here, while the
    running index keeps serving downloads and uploads. It never sees the store (canary.py).
    `command` and `env`: the container's, as the replacement will run."""
    return scope.step(
        "canary",
        canary_script(
            scope.docker_name("canary"),
            settings.image.ref,
            command,
            env,
            [(m.source, m.target) for m in _config_mounts(scope, credentials)],
            server_args.PACKAGES_DIR,
            settings.memory_mb,
            HEALTHCHECK[1:],
            timeout_seconds,
        ),
        depends_on=[image, store.packages, *([store.auth] if store.auth else []), *after],
        # Run again whenever the container would be replaced for its image, arguments or environment.
        triggers=[image.image_id, json.dumps(command), json.dumps(env)],
    )


def declare_programs(
    scope: Scope, settings: PypiserverSettings, image: docker.RemoteImage, store: Store, access: str
) -> pulumi.Resource:
    """The programs that run in the containers (gunicorn's configuration, the indexer), into the hooks
    volume as one folder named by their hash (program_files). The step keeps its first name: it
    delivered gunicorn's configuration alone before, and a new name would be a new resource."""
    return scope.step(
        "gunicorn-config",
        volume_files.write_volume_folder(
            hooks_volume(scope),
            server_args.HOOKS_DIR,
            program_files.digest(access),
            settings.image.ref,
            program_files.KEEP,
        ),
        depends_on=[image, store.hooks],
        stdin=program_files.archive(access),
    )


@dataclass(frozen=True)
class _Mount:
    source: str
    target: str


def _config_mounts(scope: Scope, credentials: Credentials | None) -> list[_Mount]:
    """The configuration volumes pypiserver mounts, by Docker name (the canary mounts them too; never
    the package store)."""
    mounts = [_Mount(hooks_volume(scope), server_args.HOOKS_DIR)]
    if credentials is not None:
        mounts.append(_Mount(credentials.volume, server_args.AUTH_DIR))
    return mounts
