"""The ownership rules as the upload guard applies them (in_container/project_access.py): every
spelling of a name is one project, so no spelling gets around a rule."""

from __future__ import annotations

import pytest

from components.in_container import index_rules, project_access

ACCESS = project_access.parse(
    project_access.render({"acme-*": ["alice", "ci-acme"], "acme-secret": ["alice"], "tool?": []}, "nobody")
)


@pytest.mark.parametrize(
    "filename",
    [
        "acme_tool-1.0.tar.gz",
        "Acme.Tool-1.0.tar.gz",
        "ACME__TOOL-1.0-py3-none-any.whl",
        "acme-._tool-1.0.tar.gz",
        "acme.tool-1.0.zip",
    ],
)
def test_every_spelling_of_a_name_meets_the_same_rule(filename):
    project = index_rules.project_of(filename)
    assert project == "acme-tool"
    assert ACCESS.refusal("alice", project) is None
    assert ACCESS.refusal("ci-acme", project) is None
    refused = ACCESS.refusal("ci", project)
    assert refused == "user 'ci' may not upload to project 'acme-tool': acme-* may be published by alice, ci-acme only"


def test_overlapping_rules_grant_their_users_together():
    assert ACCESS.refusal("ci-acme", "acme-secret") is None  # acme-* covers it as well as acme-secret
    assert "acme-* and acme-secret may be published by alice, ci-acme only" in (
        ACCESS.refusal("ci", "acme-secret") or ""
    )


def test_a_rule_without_users_grants_nobody_and_uncovered_projects_follow_the_setting():
    assert "tool? may be published by nobody only" in (ACCESS.refusal("alice", "tool1") or "")
    assert "no rule in `owners` covers it, and uncoveredProjects is nobody" in (ACCESS.refusal("alice", "other") or "")
    anyone = project_access.parse(project_access.render({"acme-*": ["alice"]}, "uploaders"))
    assert anyone.refusal("ci", "other") is None
    assert anyone.refusal("ci", "acme") is None, "acme-* needs the dash: 'acme' alone is another project"
    assert anyone.refusal("ci", "acmex") is None
    assert project_access.ANYONE.refusal("ci", "acme-tool") is None


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [("acme-*", None), ("a", None), ("*", None), ("acme_?x", None), ("-a", "starts"), ("a.", "ends"), ("a/b", "holds")],
)
def test_a_pattern_no_valid_name_can_match_is_named(pattern, problem):
    found = project_access.pattern_problem(pattern)
    assert (found is None) == (problem is None) and (problem is None or problem in (found or "")), found


def test_a_broken_rules_file_stops_the_guard_rather_than_opening_the_index(tmp_path):
    path = tmp_path / project_access.ACCESS_FILE
    path.write_text('{"owners": [], "uncovered": "everyone"}')
    with pytest.raises(ValueError, match="uncovered must be one of"):
        project_access.load(str(path))
    with pytest.raises(FileNotFoundError):
        project_access.load(str(tmp_path / "missing.json"))
