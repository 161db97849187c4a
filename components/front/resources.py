"""The front server (Caddy): the only published ports; TLS, cached authentication, static pages and files.

Its configuration files reach the front-config volume through steps (secret: the Caddyfile holds the
users' hashes, tls/ a private key); package files and pages come read-only from the store's volumes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from .. import volume_files
from ..scope import Scope
from ..store.mounts import INDEX_DIR, STORE_DIR
from ..store.volumes import Store, front_config_volume
from . import layout, scripts
from .settings import FrontSettings

# The front server binds 80/443 inside its container; nothing else needs a capability.
# Spelled as Docker stores them: the provider's Go client sends CAP_NET_BIND_SERVICE whatever it is
# given (moby client/container_create.go, normalizeCap) and reads that back; capabilities force a new
# container, so the short name would replace it on every `pulumi up`.
FRONT_CAPABILITIES = docker.ContainerCapabilitiesArgs(drops=["ALL"], adds=["CAP_NET_BIND_SERVICE"])


def front_name(scope: Scope) -> str:
    return scope.docker_name("front")


@dataclass(frozen=True)
class Front:
    image: docker.RemoteImage
    container: docker.Container


def _config_files(
    scope: Scope, settings: FrontSettings, image: docker.RemoteImage, store: Store, config: pulumi.Output[str]
) -> list[pulumi.Resource]:
    def config_file(
        suffix: str, path: str, content: pulumi.Input[str], then: str = "", after: Sequence[pulumi.Resource] = ()
    ) -> pulumi.Resource:
        """A file in the front server's config volume (secret: the Caddyfile holds hashes, tls/ a key)."""
        return scope.step(
            suffix,
            volume_files.write_volume_file(
                front_config_volume(scope),
                layout.CONFIG_DIR,
                path.removeprefix(layout.CONFIG_DIR + "/"),
                settings.image.ref,
                0,
                then=then,
            ),
            depends_on=[image, store.front_config, *after],
            stdin=content,
            secret=True,
        )

    tls_files: list[pulumi.Resource] = []
    if settings.tls == "supplied":
        tls_files = [
            config_file("tls-cert", layout.CERT_FILE, settings.tls_certificate or ""),
            config_file("tls-key", layout.KEY_FILE, pulumi.Output.secret(settings.tls_key or "")),
        ]
    # Written last and the only one that reloads: Caddy does not watch its files. A rotated
    # certificate changes the Caddyfile too (it names the certificate's fingerprint), so the reload
    # happens once, after both new files are in place.
    return [
        *tls_files,
        config_file(
            "caddyfile",
            layout.CADDYFILE,
            config,
            then=scripts.reload_front(front_name(scope), layout.CADDYFILE),
            after=tls_files,
        ),
    ]


def _ports(settings: FrontSettings) -> list[docker.ContainerPortArgs]:
    ports = [(layout.INNER_HTTPS, settings.https_port)]
    if settings.http_port:
        ports.append((layout.INNER_HTTP, settings.http_port))
    return [
        docker.ContainerPortArgs(internal=inner, external=outer, ip=settings.bind_address, protocol="tcp")
        for inner, outer in ports
    ]


def declare_front(
    scope: Scope,
    settings: FrontSettings,
    store: Store,
    config: pulumi.Output[str],
    backend: docker.Container,
    after: Sequence[pulumi.Resource] = (),
) -> Front:
    image = scope.image("front-image", settings.image.ref)
    files = _config_files(scope, settings, image, store, config)
    container = scope.container(
        "front",
        128,
        name=front_name(scope),
        image=image.image_id,
        ports=_ports(settings),
        networks_advanced=[
            docker.ContainerNetworksAdvancedArgs(name=store.public.name),
            docker.ContainerNetworksAdvancedArgs(name=store.internal.name),
        ],
        mounts=[
            docker.ContainerMountArgs(
                type="volume", source=store.front_config.name, target=layout.CONFIG_DIR, read_only=True
            ),
            docker.ContainerMountArgs(type="volume", source=store.front_data.name, target=layout.DATA_DIR),
            docker.ContainerMountArgs(type="volume", source=store.packages.name, target=STORE_DIR, read_only=True),
            docker.ContainerMountArgs(type="volume", source=store.pages.name, target=INDEX_DIR, read_only=True),
        ],
        capabilities=FRONT_CAPABILITIES,
        depends_on=[*files, backend, *after],
    )
    return Front(image, container)


def pem_text(stdout: str) -> str:
    """The certificate as a PEM file ends: pulumi-command trims one trailing newline from a command's
    stdout (provider/pkg/provider/remote/commandOutputs.go, `strings.TrimSuffix`); put it back."""
    return stdout if not stdout or stdout.endswith("\n") else stdout + "\n"


def declare_ca_output(
    scope: Scope, settings: FrontSettings, front: Front, health: pulumi.Resource
) -> pulumi.Output[str]:
    """The internal CA's certificate, which clients trust (`tls: internal`); empty otherwise."""
    if settings.tls != "internal":
        return pulumi.Output.from_input("")
    ca = scope.step(
        "ca",
        scripts.read_file_in(front_name(scope), layout.CA_CERT),
        # A new front container may hold a new CA (for instance after its data volume was lost).
        triggers=[front.container.id],
        depends_on=[health],
    )
    return ca.stdout.apply(pem_text)
