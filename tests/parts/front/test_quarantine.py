"""The front server's quarantine (front/quarantine.py): its expression names exactly the files that
index_rules.project_of files under a quarantined project, and their metadata."""

from __future__ import annotations

import re

import pytest

from components.front.quarantine import files_of
from components.in_container import index_rules

QUARANTINED = ["evil-tool", "x"]
PATTERN = re.compile(files_of(QUARANTINED).removeprefix("(?i)"), re.IGNORECASE)  # RE2's (?i), Python's flag


@pytest.mark.parametrize(
    "name",
    [
        "evil_tool-1.0-py3-none-any.whl",
        "Evil.Tool-1.0.tar.gz",
        "EVIL--tool-2.0.zip",
        "evil.tool-1.0-py3-none-any.whl",
        "evil_tool-1.0-py3-none-any.whl.metadata",
        "evil-tool-extra-1.0.tar.gz",
        "evil_tool_extra-1.0-py3-none-any.whl",
        "evil-1.0.tar.gz",
        "x-1.tar.gz",
        "x_y-1.tar.gz",
        "evil-tool-1.0-beta.tar.gz",
        "evil_tool-1.0.egg",
        "xevil_tool-1.0-py3-none-any.whl",
    ],
)
def test_the_expression_matches_a_file_exactly_when_its_project_is_quarantined(name):
    project = index_rules.project_of(name.removesuffix(".metadata"))
    assert bool(PATTERN.match(f"/packages/{name}")) == (project in QUARANTINED), project
