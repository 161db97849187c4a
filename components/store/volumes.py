"""The store: the volumes that must survive every update, replacement and `pulumi destroy` of
production, and that the backups copy: the uploaded distributions, and the front server's data (its
certificates, the internal CA and ACME accounts: losing the CA means every client must trust a new
one). Both are protected and retained when `protectPackages` is on (always in production).

Every other volume belongs to the part that uses it; these two are the store's because what they hold
outlives the parts, and a restore fills them before any part starts.
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
    front_data: docker.Volume
    """The front server's certificates, internal CA and ACME account."""
    names: dict[str, str]
    """Their Docker names by role (labels.py), as the backups mount them."""


def declare_store(scope: Scope, settings: StoreSettings) -> Store:
    kept = {"protect": settings.protect_packages, "retain_on_delete": settings.protect_packages}
    # `protect` makes a plain `pulumi destroy` and any replacement refuse; `retain_on_delete` keeps the
    # Docker volume even when the resource leaves the stack (`pulumi destroy --exclude-protected`, or
    # after an unprotect).
    front_data_name = scope.docker_name("front-data")
    packages = scope.volume("packages", settings.packages_volume, PACKAGES_ROLE, **kept)
    front_data = scope.volume("front-data", front_data_name, FRONT_DATA_ROLE, **kept)
    return Store(packages, front_data, {PACKAGES_ROLE: settings.packages_volume, FRONT_DATA_ROLE: front_data_name})
