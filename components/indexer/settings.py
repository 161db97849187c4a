"""The indexer's section of the settings: the yanked releases (PEP 592) its pages mark."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..config_reading import ConfigError, read_list, show
from ..in_container.index_rules import normalize


@dataclass(frozen=True)
class IndexerSettings:
    yanked: Mapping[str, Mapping[str, str]]
    """PEP 592: normalised project -> version -> reason ("" for none). The files stay; pages mark them."""


def parse_indexer(values: Mapping[str, Any]) -> IndexerSettings:
    return IndexerSettings(_parse_yanked(values))


YANK = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([A-Za-z0-9][A-Za-z0-9.+!_-]*)\s*(?::\s*(.*?))?\s*$")


def _parse_yanked(values: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """`yanked`: ["name==version: reason", ...] (the reason is optional), keyed by PEP 503 name."""
    yanked: dict[str, dict[str, str]] = {}
    for entry in read_list(values, "yanked", []):
        match = YANK.match(entry) if isinstance(entry, str) else None
        reason = match.group(3) or "" if match else ""
        if not match or len(reason) > 300 or any(c in reason for c in "\r\n"):
            raise ConfigError(
                "yanked",
                show(entry),
                "entries are 'name==version' or 'name==version: reason' (one line, 300 characters)",
            )
        name = normalize(match.group(1))
        yanked.setdefault(name, {})[match.group(2)] = reason
    return yanked
