"""Project status (PEP 792), read from the stack: `projectStatus`, `NAME: STATUS` or
`NAME: STATUS: reason`, with STATUS one of archived, quarantined, deprecated (a project not named is
active). The pages carry it (in_container/simple_pages.py), the upload guard refuses uploads to an
archived or quarantined project (in_container/project_access.py), and the front server serves no file
of a quarantined one (front/routes.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..config_reading import ConfigError, read_list, show
from ..in_container import index_rules, project_access

KEYS = ("projectStatus",)


def parse_statuses(values: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """PEP 503 name -> (status, reason; '' for none)."""
    statuses: dict[str, tuple[str, str]] = {}
    for entry in read_list(values, "projectStatus", []):
        if not isinstance(entry, str) or ":" not in entry:
            raise ConfigError(
                "projectStatus",
                show(entry),
                "expected 'NAME: STATUS' or 'NAME: STATUS: reason' (e.g. 'old-tool: archived')",
            )
        name, rest = (part.strip() for part in entry.split(":", 1))
        status, _, reason = (part.strip() for part in rest.partition(":"))
        if not index_rules.VALID_NAME.fullmatch(name):
            raise ConfigError(
                "projectStatus",
                show(entry),
                "a project name is letters, digits, '.', '_' and '-', starting and ending with a letter or digit",
            )
        if status not in project_access.STATUSES:
            raise ConfigError(
                "projectStatus",
                show(entry),
                f"the status is one of {', '.join(project_access.STATUSES)} (PEP 792; active: remove the entry)",
            )
        project = index_rules.normalize(name)
        if project in statuses:
            raise ConfigError("projectStatus", show(entry), f"{project} has a status already: keep one")
        statuses[project] = (status, reason)
    return statuses
