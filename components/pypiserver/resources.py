"""pypiserver as a component: its image, its credentials, the programs it delivers, its canary and its
container, on an internal network of its own, never published.

It takes uploads and the rare page the indexer has not written; the front server answers everything
else. It checks passwords itself too (from the htpasswd file in its auth volume). What others take from
it, by name: its image (the indexer and volume writers run it), its container and network (the front
server proxies to it), and the programs it delivers (the indexer runs one of them).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from .. import volume_files
from ..scope import Scope
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
class PypiserverArgs:
    settings: PypiserverSettings
    packages: docker.Volume
    """The package store, which pypiserver alone writes."""
    credentials: Credentials | None
    """What uploads are checked against; None when nothing is protected."""
    health_timeout_seconds: int
    """How long the canary may take to answer healthy."""
    access: str
    """The text of access.json (who may publish what), delivered with the programs."""
    after: Sequence[pulumi.Resource] = ()
    """What must be done before pypiserver starts (a restore into the store)."""


class Pypiserver(pulumi.ComponentResource):
    image: docker.RemoteImage
    """The pinned pypiserver image (the indexer and the volume writers run it too)."""
    container: docker.Container
    network: docker.Network
    """Its only network: no way in or out except through the front server, which joins it."""
    hooks: docker.Volume
    """The programs that run in the containers (program_files)."""
    canary: pulumi.Resource
    """The new image and arguments, tried beside the running index: whatever runs the image waits for it."""
    programs: pulumi.Resource
    """The step that delivered the programs into `hooks`: the indexer runs one of them."""

    def __init__(self, scope: Scope, args: PypiserverArgs):
        super().__init__("pypiserver:index:Pypiserver", scope.child_name("server"), None, scope.opts())
        scope = scope.part(self)
        settings = args.settings
        self.image = scope.image("image", settings.image.ref)
        self.hooks = scope.volume("hooks", hooks_volume(scope), "hooks")
        self.network = docker.Network(
            scope.child_name("internal"),
            name=scope.docker_name("internal"),
            # No way in or out except through the front server: pypiserver is never published.
            internal=True,
            opts=scope.opts(depends_on=scope.ready),
        )
        self.access = args.access
        self.programs = declare_programs(scope, settings, self.image, self.hooks, self.access)
        prepared, mounts = self._credentials(scope, args)
        credentials = args.credentials
        authenticate = credentials.authenticate if credentials else ()
        command = server_args.run_args(settings, authenticate)
        env = server_args.run_env(settings, program_files.gunicorn_config(self.access))
        self.canary = _declare_canary(
            scope,
            settings,
            self.image,
            args.packages,
            command=command,
            env=env,
            credentials=credentials,
            timeout_seconds=args.health_timeout_seconds,
            after=[*prepared, *args.after],
        )
        self.container = scope.container(
            "container",
            settings.memory_mb,
            name=scope.container_name,
            image=self.image.image_id,
            command=command,
            envs=env,
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=self.network.name, aliases=[server_args.NETWORK_ALIAS])
            ],
            mounts=mounts,
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=HEALTHCHECK, interval="15s", timeout="5s", retries=3, start_period="10s"
            ),
            depends_on=[*prepared, *args.after, self.canary],
        )
        self.register_outputs({"container": self.container.name})

    def _credentials(
        self, scope: Scope, args: PypiserverArgs
    ) -> tuple[list[pulumi.Resource], list[docker.ContainerMountArgs]]:
        """What the container waits for and mounts: the programs, and the htpasswd file when anything is
        protected."""
        prepared: list[pulumi.Resource] = [self.programs]
        mounts = [
            docker.ContainerMountArgs(type="volume", source=args.packages.name, target=server_args.PACKAGES_DIR),
            docker.ContainerMountArgs(
                type="volume", source=self.hooks.name, target=server_args.HOOKS_DIR, read_only=True
            ),
        ]
        if args.credentials is not None:
            auth = scope.volume("auth", args.credentials.volume, "auth")
            prepared.append(_declare_htpasswd(scope, args.settings, self.image, auth, args.credentials))
            mounts.append(
                docker.ContainerMountArgs(type="volume", source=auth.name, target=server_args.AUTH_DIR, read_only=True)
            )
        return prepared, mounts

    @property
    def indexer_program(self) -> str:
        """The indexer's program, as the containers that mount `hooks` at HOOKS_DIR find it."""
        return program_files.indexer_program(self.access)


def hooks_volume(scope: Scope) -> str:
    return scope.docker_name("hooks")


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
    packages: docker.Volume,
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
        depends_on=[image, packages, *after],
        # Run again whenever the container would be replaced for its image, arguments or environment.
        triggers=[image.image_id, json.dumps(command), json.dumps(env)],
    )


def declare_programs(
    scope: Scope, settings: PypiserverSettings, image: docker.RemoteImage, hooks: docker.Volume, access: str
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
        depends_on=[image, hooks],
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
