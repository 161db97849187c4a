"""The upload audit's pure parts (the hook itself runs in tests/test_real_index.py, in real gunicorn)."""

from __future__ import annotations

import base64

import pytest

from components.gunicorn_conf import audit_line, user_of


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
