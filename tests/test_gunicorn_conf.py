"""The upload audit's pure parts (the hook itself runs in tests/test_real_index.py, in real gunicorn)."""

from __future__ import annotations

import base64
import inspect

import pytest

from components import static_index
from components.gunicorn_conf import audit_line, refusal, user_of
from components.pypiserver import render_gunicorn_config


def basic(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


@pytest.mark.parametrize(
    ("header", "user"),
    [
        (basic("ci:s3cret:with:colons"), "ci"),
        (basic(":no-user"), "-"),
        (None, "-"),
        ("Bearer abc", "-"),
        ("Basic !!!", "-"),
    ],
)
def test_the_user_is_the_name_half_of_basic_credentials_never_the_password(header, user):
    assert user_of(header) == user


def test_a_crafted_file_name_cannot_forge_or_split_a_record():
    line = audit_line("upload", "ci", "200", 0, file="a.whl\naudit: upload user=root status=200", size=1)
    assert "\n" not in line and line.count("audit:") == 2 and "file='a.whl\\naudit: upload" in line
    assert audit_line("remove", "ci", "200", 0, project="team-tool", version="1.0") == (
        "audit: remove user=ci status=200 time=1970-01-01T00:00:00Z project=team-tool version=1.0"
    )


STORED = ["team_tool-1.0-py3-none-any.whl", "team_tool-1.0.tar.gz", "other-2.0.tar.gz"]


@pytest.mark.parametrize(
    ("filename", "pypiserver_reads", "status"),
    [
        ("team_tool-1.1-py3-none-any.whl", ("team_tool", "1.1"), None),  # a new release
        ("team_tool-1.0-cp312-cp312-linux_x86_64.whl", ("team_tool", "1.0"), None),  # another file of 1.0
        ("team_tool-1.0-py3-none-any.whl", ("team_tool", "1.0"), None),  # the same name: pypiserver decides
        ("Team.Tool-1.0-py3-none-any.whl", ("Team.Tool", "1.0"), "409"),  # another spelling of the name
        ("team_tool-1.0.0-py3-none-any.whl", ("team_tool", "1.0.0"), "409"),  # ... of the version
        ("TEAM-TOOL-1.0.tar.gz", ("TEAM-TOOL", "1.0"), "409"),
        ("foo-1.0-beta.tar.gz", ("foo", "1.0-beta"), "400"),  # pypiserver: foo; a PEP 503 reader: foo-1-0
        (".hidden-1.0.tar.gz", (".hidden", "1.0"), "400"),  # stored, listed by nobody
        ("foo.zip", ("foo", ""), "400"),
        ("notes.txt", None, "400"),
        ("build_tool-1.0-1-py3-none-any.whl", ("build_tool", "1.0-1"), None),  # a wheel build tag
    ],
)
def test_the_guard_refuses_what_would_be_stored_but_not_served_or_a_second_spelling(filename, pypiserver_reads, status):
    answer = refusal(static_index, filename, pypiserver_reads, STORED)
    assert (answer[0][:3] if answer else None) == status, answer
    if answer:
        assert repr(filename) in answer[1], "the error names the refused file"


def test_the_program_embeds_the_indexer_rules_the_guard_uses():
    text = render_gunicorn_config()
    namespace: dict = {}
    exec(compile(text, "gunicorn.conf.py", "exec"), namespace)  # noqa: S102 (the program's own text)
    rules = namespace["index_rules"]()
    assert rules.project_of("Team.Tool-1.0.tar.gz") == "team-tool" and rules.__name__ == "static_index"
    assert namespace["INDEX_RULES"] == inspect.getsource(static_index)
