"""Supervision's section of the settings: how long a deploy waits for the index to answer healthy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..config_reading import read_int


@dataclass(frozen=True)
class SupervisionSettings:
    health_timeout_seconds: int
    """The health gate's bound, and the canary's: a new image must answer within it."""


def parse_supervision(values: Mapping[str, Any]) -> SupervisionSettings:
    return SupervisionSettings(read_int(values, "healthTimeoutSeconds", 90, 5, 1800))
