"""The simple API's pages as simple_pages.py renders them."""

from __future__ import annotations

import json

import pytest

from components.in_container import simple_pages


def test_pages_escape_what_they_print_whatever_they_are_given():
    """Defence in depth: a name that reached the renderers anyway would be text, not markup."""
    name = '<b onmouseover="x">'
    root, project = simple_pages.render_root([name]), simple_pages.render_project(name, {})
    assert name not in root and name not in project
    assert "&lt;b onmouseover=&quot;x&quot;&gt;" in root and "Links for &lt;b" in project


def test_upload_time_is_pep_700_iso_8601():
    from components.in_container.simple_pages import upload_time

    assert upload_time(1_764_165_600_123_456_789) == "2025-11-26T14:00:00.123456Z"


@pytest.mark.parametrize("projects", [[], ["team-tool"], ["b", "a", "x\"<>&'", "ünï", "tab\there", "back\\slash"]])
def test_the_root_json_page_is_json_dumps_of_its_shape_byte_for_byte(projects):
    """Built without a dictionary per project (the root of 100,000 projects is written whole)."""
    shape = {"meta": {"api-version": simple_pages.API_VERSION}, "projects": [{"name": p} for p in sorted(projects)]}
    assert simple_pages.render_root_json(projects) == json.dumps(shape)
    assert json.loads(simple_pages.render_root_json(projects)) == shape
