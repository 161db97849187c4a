"""The validated settings: one section per part of the deployment, each owned by that part."""

from __future__ import annotations

from dataclasses import dataclass

from ..config_reading import PRODUCTION_STACK
from ..front.settings import FrontSettings
from ..host.settings import HostSettings
from ..indexer.settings import IndexerSettings
from ..pypiserver.settings import PypiserverSettings
from ..store.settings import StoreSettings
from ..supervision.settings import SupervisionSettings
from .access import AccessSettings


@dataclass(frozen=True)
class Settings:
    """Everything the program needs from the stack's config, validated."""

    stack: str
    container_name: str
    """pypiserver's container, and the prefix of the deployment's other Docker names (Scope.docker_name)."""
    host: HostSettings
    access: AccessSettings
    pypiserver: PypiserverSettings
    indexer: IndexerSettings
    front: FrontSettings
    store: StoreSettings
    supervision: SupervisionSettings

    @property
    def production(self) -> bool:
        return self.stack == PRODUCTION_STACK
