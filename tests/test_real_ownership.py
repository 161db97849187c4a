"""Who may publish what, through the real front server and the real pypiserver behind the program's
upload guard, with the rules the program delivers (access.json): `owners` and `uncoveredProjects`."""

from __future__ import annotations

import re

import pytest

from tests.support.index_client import make_wheel, remove, twine_upload
from tests.support.real_access import AccessStack, access_stack

OWNERS = ["acme-*: alice, ci-acme", "frozen-tool: "]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with access_stack(tmp_path_factory.mktemp("ownership"), owners=OWNERS) as running:
        yield running


def stored(stack: AccessStack) -> list[str]:
    return sorted(p.name for p in stack.backend.packages.iterdir())


@pytest.mark.parametrize(
    "filename",
    [
        "acme_tool-1.0-py3-none-any.whl",
        "ACME_Tool-1.0-py3-none-any.whl",
        "Acme.Tool-1.0.tar.gz",
        "acme-._tool-1.0.tar.gz",
        "ACME__TOOL-1.0.zip",
        "acme.tool-2.0.tar.gz",
    ],
)
def test_no_spelling_of_an_owned_name_lets_another_uploader_publish_it(stack, tmp_path, filename):
    """The project's first upload too: nothing of acme-tool is stored yet when ci tries."""
    before = stored(stack)
    reply = stack.upload_as("ci", tmp_path, filename)
    assert reply.status == 403, reply
    assert reply.body.decode() == (
        "user 'ci' may not upload to project 'acme-tool': acme-* may be published by alice, ci-acme only\n"
    )
    assert stored(stack) == before, "nothing stored"


def test_the_owners_publish_with_twine_and_others_keep_their_uncovered_projects(stack, tmp_path):
    by_alice = make_wheel(tmp_path / "a", "acme-tool", "1.0")
    assert stack.upload("alice", by_alice).status == 200
    by_ci_acme = make_wheel(tmp_path / "b", "Acme.Tool", "1.1")
    result = twine_upload(stack.upload_url, by_ci_acme, "ci-acme", "ci-acme-password-6d2b", ca=stack.front.ca)
    assert result.returncode == 0, result.stdout + result.stderr
    # No rule covers team-tool, and uncoveredProjects is `uploaders` (the default): every uploader.
    assert stack.upload("ci", make_wheel(tmp_path / "c", "team-tool", "1.0")).status == 200
    # A reader still may not upload anything (the front server's role check comes first).
    assert stack.upload("reader", make_wheel(tmp_path / "d", "reader-tool", "1.0")).status == 401
    assert {"acme_tool-1.0-py3-none-any.whl", "Acme_Tool-1.1-py3-none-any.whl"} <= set(stored(stack))


def test_a_rule_without_users_freezes_its_project_for_everyone(stack, tmp_path):
    for user in ("alice", "ci", "ci-acme"):
        reply = stack.upload(user, make_wheel(tmp_path / user, "frozen-tool", "1.0"))
        assert reply.status == 403 and b"frozen-tool may be published by nobody only" in reply.body, reply


def test_only_the_owners_remove_a_release(stack, tmp_path):
    assert stack.upload("alice", make_wheel(tmp_path, "acme-removable", "1.0")).status == 200
    refused = remove(stack.upload_url, "acme_removable", "1.0", "ci", "ci-password-7f3a9c1e5b", ca=stack.front.ca)
    assert refused.status == 403 and b"may not remove from project 'acme-removable'" in refused.body, refused
    assert "acme_removable-1.0-py3-none-any.whl" in stored(stack)
    removed = remove(stack.upload_url, "acme_removable", "1.0", "ci-acme", "ci-acme-password-6d2b", ca=stack.front.ca)
    assert removed.status == 200 and "acme_removable-1.0-py3-none-any.whl" not in stored(stack)


def test_every_refusal_is_audited_with_user_project_and_reason(stack, tmp_path):
    assert stack.upload_as("ci", tmp_path, "Acme.Audited-3.0.tar.gz").status == 403
    expected = re.compile(
        r"audit: upload user=ci status=403 time=\S+Z file=Acme\.Audited-3\.0\.tar\.gz project=acme-audited "
        r"reason=\"user 'ci' may not upload to project 'acme-audited': acme-\* may be published by alice, ci-acme only\"$"
    )
    assert stack.audited(expected), stack.audit_lines()[-5:]
