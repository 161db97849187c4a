"""Who may publish what, read from the stack: `owners` (`PATTERN: user, user`: the users who may publish
the projects the pattern matches) and `uncoveredProjects` (what a project no rule covers allows). The upload
guard applies them (components/in_container/project_access.py, which also defines the patterns).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..config_reading import ConfigError, read_choice, read_list, show
from ..in_container import project_access

KEYS = ("owners", "uncoveredProjects")


def _entries(values: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    """`owners` entries, `PATTERN: user, user` (the users after the colon; none grants nobody)."""
    entries = []
    for entry in read_list(values, "owners", []):
        if not isinstance(entry, str) or ":" not in entry:
            raise ConfigError(
                "owners",
                show(entry),
                "expected 'PATTERN: user, user' (e.g. 'acme-*: alice, ci-acme'; no users: nobody)",
            )
        pattern, granted = entry.split(":", 1)
        entries.append((pattern.strip(), [u for u in re.split(r"[,\s]+", granted) if u]))
    return entries


def parse_owners(
    values: Mapping[str, Any], users: Mapping[str, str], uploaders: tuple[str, ...], authenticate: tuple[str, ...]
) -> dict[str, list[str]]:
    """`owners`: ['PATTERN: user, ...']. Every pattern can match some project, once; every user exists
    and holds the upload role."""
    owners: dict[str, list[str]] = {}
    if not users:
        return owners  # nobody logs in: the rules do nothing, and ONLY_USED_WITH says so
    for pattern, granted in _entries(values):
        problem = project_access.pattern_problem(pattern)
        if problem:
            raise ConfigError("owners", f"pattern {show(pattern)}", problem)
        normal = project_access.normal_pattern(pattern)
        if normal in owners:
            raise ConfigError("owners", f"pattern {show(pattern)}", f"{normal!r} has a rule already: join the two")
        for user in granted:
            if user not in users:
                raise ConfigError(
                    "owners", f"{pattern}: {user}", f"no such user (users: {', '.join(sorted(users)) or 'none'})"
                )
            if user not in uploaders:
                raise ConfigError(
                    "owners",
                    f"{pattern}: {user}",
                    f"{user} may only read: add them to uploaders ({', '.join(uploaders)}) or remove them here",
                )
        owners[normal] = sorted(set(granted))
    if owners and "update" not in authenticate:
        raise ConfigError(
            "owners", "rules", "uploads are not authenticated, so the uploader is unknown: add update to authenticate"
        )
    return owners


def parse_uncovered(values: Mapping[str, Any]) -> str:
    """`uncoveredProjects`: `uploaders` (every user with the upload role, the default) or `nobody`."""
    return read_choice(values, "uncoveredProjects", "uploaders", project_access.UNCOVERED)


def access_file(
    owners: Mapping[str, tuple[str, ...]],
    uncovered: str,
    expires: Mapping[str, int],
    statuses: Mapping[str, tuple[str, str]],
) -> str:
    """The text of access.json, which the program delivers beside the upload guard and the indexer."""
    return project_access.render({p: list(u) for p, u in owners.items()}, uncovered, dict(expires), dict(statuses))
