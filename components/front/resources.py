"""The front server (Caddy) as a component: the only published ports; TLS, cached authentication, static
pages and files.

It owns its configuration volume and its public network, and renders its own Caddyfile from the
users' hashes. Its configuration files reach the front-config volume through steps (secret: the
Caddyfile holds the hashes, tls/ a private key); its data (certificates, CA, ACME account) is the
store's, which keeps and backs it up; package files and pages come read-only from the volumes of the
store and the indexer. What others take from it: its container's name, and its CA.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from .. import volume_files
from ..scope import Scope
from ..settings.access import AccessSettings
from ..store.mounts import INDEX_DIR, STORE_DIR
from . import layout, scripts
from .caddyfile import render_caddyfile
from .settings import FrontSettings

# The front server binds 80/443 inside its container; nothing else needs a capability.
# Spelled as Docker stores them: the provider's Go client sends CAP_NET_BIND_SERVICE whatever it is
# given (moby client/container_create.go, normalizeCap) and reads that back; capabilities force a new
# container, so the short name would replace it on every `pulumi up`.
FRONT_CAPABILITIES = docker.ContainerCapabilitiesArgs(drops=["ALL"], adds=["CAP_NET_BIND_SERVICE"])


@dataclass(frozen=True)
class FrontArgs:
    settings: FrontSettings
    access: AccessSettings
    hashes: pulumi.Output[Mapping[str, str]]
    """The users' bcrypt hashes (secret)."""
    fallback_url: str | None
    """pypiserver's fallback for unknown projects, which the front server follows the same way."""
    packages: docker.Volume
    """Served read-only as /packages/."""
    data: docker.Volume
    """Its certificates, internal CA and ACME account (the store's: kept and backed up)."""
    pages: docker.Volume
    """The indexer's pages, served read-only as /simple/."""
    backend: docker.Container
    backend_network: docker.Network
    """pypiserver's internal network, which the front server joins to reach it."""
    after: Sequence[pulumi.Resource] = ()


class FrontServer(pulumi.ComponentResource):
    image: docker.RemoteImage
    container: docker.Container
    name: str
    """The container's Docker name."""

    def __init__(self, scope: Scope, args: FrontArgs):
        super().__init__("pypiserver:index:FrontServer", scope.child_name("front-server"), None, scope.opts())
        scope = scope.part(self)
        self._scope, self._settings = scope, args.settings
        self.name = scope.docker_name("front")
        config_name = scope.docker_name("front-config")
        config = scope.volume("front-config", config_name, "front-config")
        public = docker.Network(
            scope.child_name("public"), name=scope.docker_name("public"), opts=scope.opts(depends_on=scope.ready)
        )
        self.image = scope.image("front-image", args.settings.image.ref)
        caddyfile = args.hashes.apply(
            lambda hashes: render_caddyfile(args.settings, args.access, args.fallback_url, hashes)
        )
        files = _config_files(scope, args.settings, self.image, (config, config_name), self.name, caddyfile)
        self.container = scope.container(
            "front",
            128,
            name=self.name,
            image=self.image.image_id,
            ports=_ports(args.settings),
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=public.name),
                docker.ContainerNetworksAdvancedArgs(name=args.backend_network.name),
            ],
            mounts=[
                docker.ContainerMountArgs(type="volume", source=config.name, target=layout.CONFIG_DIR, read_only=True),
                docker.ContainerMountArgs(type="volume", source=args.data.name, target=layout.DATA_DIR),
                docker.ContainerMountArgs(type="volume", source=args.packages.name, target=STORE_DIR, read_only=True),
                docker.ContainerMountArgs(type="volume", source=args.pages.name, target=INDEX_DIR, read_only=True),
            ],
            capabilities=FRONT_CAPABILITIES,
            depends_on=[*files, args.backend, *args.after],
        )
        self.register_outputs({"container": self.container.name})

    def ca_certificate(self, health: pulumi.Resource) -> pulumi.Output[str]:
        """The internal CA's certificate, which clients trust (`tls: internal`), read once `health` has
        passed (the first TLS handshake makes it); empty otherwise."""
        if self._settings.tls != "internal":
            return pulumi.Output.from_input("")
        ca = self._scope.step(
            "ca",
            scripts.read_file_in(self.name, layout.CA_CERT),
            # A new front container may hold a new CA (for instance after its data volume was lost).
            triggers=[self.container.id],
            depends_on=[health],
        )
        return ca.stdout.apply(pem_text)


def _config_files(
    scope: Scope,
    settings: FrontSettings,
    image: docker.RemoteImage,
    config: tuple[docker.Volume, str],
    container: str,
    caddyfile: pulumi.Output[str],
) -> list[pulumi.Resource]:
    """`config`: the config volume and its Docker name; `container`: the front server's, which reloads."""
    volume, volume_name = config

    def config_file(
        suffix: str, path: str, content: pulumi.Input[str], then: str = "", after: Sequence[pulumi.Resource] = ()
    ) -> pulumi.Resource:
        """A file in the front server's config volume (secret: the Caddyfile holds hashes, tls/ a key)."""
        return scope.step(
            suffix,
            volume_files.write_volume_file(
                volume_name,
                layout.CONFIG_DIR,
                path.removeprefix(layout.CONFIG_DIR + "/"),
                settings.image.ref,
                0,
                then=then,
            ),
            depends_on=[image, volume, *after],
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
            caddyfile,
            then=scripts.reload_front(container, layout.CADDYFILE),
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


def pem_text(stdout: str) -> str:
    """The certificate as a PEM file ends: pulumi-command trims one trailing newline from a command's
    stdout (provider/pkg/provider/remote/commandOutputs.go, `strings.TrimSuffix`); put it back."""
    return stdout if not stdout or stdout.endswith("\n") else stdout + "\n"
