"""Project status (settings/status.py): `projectStatus`, PEP 792's statuses, checked at preview."""

from __future__ import annotations

from components.settings import parse
from tests.support.stack_values import SECRETS, refusals, remote

BAD = [
    ("staging", remote(projectStatus=["old-tool"]), "projectStatus", "expected 'NAME: STATUS'"),
    ("staging", remote(projectStatus=["old-tool: retired"]), "projectStatus", "archived, quarantined, deprecated"),
    ("staging", remote(projectStatus=["old-tool: active"]), "projectStatus", "active: remove the entry"),
    ("staging", remote(projectStatus=["-old: archived"]), "projectStatus", "a project name is letters"),
    ("staging", remote(projectStatus=["old tool: archived"]), "projectStatus", "a project name is letters"),
    (
        "staging",
        remote(projectStatus=["old-tool: archived", "Old_Tool: deprecated"]),
        "projectStatus",
        "old-tool has a status already",
    ),
]

test_bad_statuses_are_refused_at_preview = refusals(BAD)


def test_statuses_are_kept_by_pep_503_name_with_their_reason():
    values = remote(projectStatus=["Old.Tool: archived: superseded: by new-tool", "evil_tool: quarantined"])
    assert parse(values, "staging", SECRETS).access.statuses == {
        "old-tool": ("archived", "superseded: by new-tool"),
        "evil-tool": ("quarantined", ""),
    }
