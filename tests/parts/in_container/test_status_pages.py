"""PEP 792 in the pages (simple_pages.py): the status and its reason in HTML and JSON, at version 1.4;
a quarantined project offers no file; an active one's pages are as before."""

from __future__ import annotations

import json

from components.in_container import simple_pages

FILES = {"tool-1.0.tar.gz": {"sha256": "ab" * 32, "size": 3, "mtime_ns": 0}}


def test_status_and_reason_in_both_pages():
    page = simple_pages.render_project("tool", FILES, ("deprecated", 'use "new" <tool>'))
    assert '<meta name="pypi:repository-version" content="1.4">' in page
    assert '<meta name="pypi:project-status" content="deprecated">' in page
    assert '<meta name="pypi:project-status-reason" content="use &quot;new&quot; &lt;tool&gt;">' in page
    data = json.loads(simple_pages.render_project_json("tool", FILES, ("deprecated", "")))
    assert data["meta"] == {"api-version": "1.4"} and data["project-status"] == {"status": "deprecated"}
    assert len(data["files"]) == 1


def test_quarantined_offers_nothing_and_active_is_unchanged():
    assert "tool-1.0.tar.gz" not in simple_pages.render_project("tool", FILES, ("quarantined", "malware"))
    data = json.loads(simple_pages.render_project_json("tool", FILES, ("quarantined", "malware")))
    assert data["files"] == [] and data["versions"] == []
    assert simple_pages.render_project("tool", FILES, None) == simple_pages.render_project("tool", FILES)
    assert "project-status" not in json.loads(simple_pages.render_project_json("tool", FILES))
