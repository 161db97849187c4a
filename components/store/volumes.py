"""The package store and the other Docker volumes and networks the index's containers share.

What must survive every update, replacement and `pulumi destroy` of production lives here: the
package volume and the front server's data (its CA, certificates and ACME account). Both are
protected and retained when `protectPackages` is on (always in production).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi_docker as docker

from ..scope import Scope
from .labels import FRONT_DATA_ROLE, PACKAGES_ROLE
from .settings import StoreSettings


@dataclass(frozen=True)
class Store:
    packages: docker.Volume
    """The uploaded distributions: pypiserver writes, everyone else reads."""
    pages: docker.Volume
    """The indexer's static pages."""
    front_config: docker.Volume
    """The front server's Caddyfile and supplied certificate."""
    front_data: docker.Volume
    """Certificates, the internal CA and ACME accounts."""
    auth: docker.Volume | None
    """pypiserver's htpasswd file, when anything is protected."""
    hooks: docker.Volume
    """The programs that run in the containers: gunicorn's configuration (the upload guard and audit)
    and the indexer (components/pypiserver/programs.py)."""
    internal: docker.Network
    """pypiserver's only network: no way in or out except through the front server."""
    public: docker.Network
    """The front server's published side."""


def pages_volume(scope: Scope) -> str:
    return scope.docker_name("pages")


def hooks_volume(scope: Scope) -> str:
    return scope.docker_name("hooks")


def front_config_volume(scope: Scope) -> str:
    return scope.docker_name("front-config")


def front_data_volume(scope: Scope) -> str:
    """The front server's certificates, internal CA and ACME account (backed up with the packages)."""
    return scope.docker_name("front-data")


def declare_store(scope: Scope, settings: StoreSettings, with_auth: bool) -> Store:
    kept = {"protect": settings.protect_packages, "retain_on_delete": settings.protect_packages}
    # The package store outlives everything else. `protect` makes a plain `pulumi destroy` and any
    # replacement refuse; `retain_on_delete` keeps the Docker volume even when the resource leaves
    # the stack (`pulumi destroy --exclude-protected`, or after an unprotect).
    packages = scope.volume("packages", settings.packages_volume, PACKAGES_ROLE, **kept)
    pages = scope.volume("pages", pages_volume(scope), "pages")
    front_config = scope.volume("front-config", front_config_volume(scope), "front-config")
    # Losing the CA means every client must trust a new one: kept like the packages.
    front_data = scope.volume("front-data", front_data_volume(scope), FRONT_DATA_ROLE, **kept)
    auth = scope.volume("auth", settings.auth_volume, "auth") if with_auth else None
    hooks = scope.volume("hooks", hooks_volume(scope), "hooks")
    internal = docker.Network(
        scope.child_name("internal"),
        name=scope.docker_name("internal"),
        # No way in or out except through the front server: pypiserver is never published.
        internal=True,
        opts=scope.opts(depends_on=scope.ready),
    )
    public = docker.Network(
        scope.child_name("public"), name=scope.docker_name("public"), opts=scope.opts(depends_on=scope.ready)
    )
    return Store(packages, pages, front_config, front_data, auth, hooks, internal, public)
