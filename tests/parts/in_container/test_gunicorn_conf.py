"""The upload guard's and audit's rules (the hooks themselves run in tests/test_real_index.py, in real
gunicorn), and the guard's disk margin with two uploads at once, in pypiserver's own environment."""

from __future__ import annotations

import ast
import base64
import importlib.util
import re
import subprocess
from pathlib import Path

import pytest

from components import settings
from components.in_container import gunicorn_conf, index_rules
from components.in_container.gunicorn_conf import audit_line, disk_refusal, refusal, user_of
from components.in_container.project_access import render as render_access
from components.pypiserver import args as server_args
from components.pypiserver import programs as program_files
from tests.support.real_pypiserver import ensure_venv, unpack_programs
from tests.support.recorded import ROOT

NO_RULES = render_access({}, "uploaders")  # a stack without `owners`: access.json as delivered


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
        (
            "<img src=x onerror=alert(1)>-1.0.tar.gz",
            ("<img src=x onerror=alert(1)>", "1.0"),
            "400",
        ),  # no project's name
        ("build_tool-1.0-1-py3-none-any.whl", ("build_tool", "1.0-1"), None),  # a wheel build tag
    ],
)
def test_the_guard_refuses_what_would_be_stored_but_not_served_or_a_second_spelling(filename, pypiserver_reads, status):
    answer = refusal(index_rules, filename, pypiserver_reads, STORED)
    assert (answer[0][:3] if answer else None) == status, answer
    if answer:
        assert repr(filename) in answer[1], "the error names the refused file"


def test_the_delivered_configuration_reads_the_rules_of_the_indexer_delivered_beside_it(tmp_path):
    """As gunicorn loads it (importlib from the file GUNICORN_CMD_ARGS names, gunicorn/app/base.py),
    from the folder the deployment unpacks: the guard's rules are that folder's index_rules.py."""
    folder = tmp_path / program_files.digest(NO_RULES)
    unpack_programs(program_files.archive(NO_RULES), folder)
    delivered = [
        "access.json",
        "audit_record.py",
        "disk_watch.py",
        "exposition.py",
        "file_reading.py",
        "file_records.py",
        "folder_watch.py",
        "fs.py",
        "gunicorn.conf.py",
        "index_metrics.py",
        "index_rules.py",
        "page_tree.py",
        "project_access.py",
        "simple_pages.py",
        "static_index.py",
        "stopping.py",
        "stored_releases.py",
        "watching.py",
        "yank_list.py",
    ]
    assert sorted(p.name for p in folder.iterdir()) == delivered
    assert (folder / "index_rules.py").read_bytes() == Path(index_rules.__file__).read_bytes()
    spec = importlib.util.spec_from_file_location("__config__", folder / "gunicorn.conf.py")
    assert spec is not None and spec.loader is not None
    config = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(config)
    rules = config.index_rules()
    assert rules.__file__ == str(folder / "index_rules.py")
    assert rules.project_of("Team.Tool-1.0.tar.gz") == "team-tool"


def test_the_guard_reads_the_store_where_pypiserver_is_told_to_keep_it():
    """The configuration runs inside the container and cannot import the program: its copy of the
    store's path (where the guard hashes files before a removal) is the one pypiserver is started with."""
    assert gunicorn_conf.PACKAGES_DIR == server_args.PACKAGES_DIR
    assert server_args.run_args(settings.parse({"target": "local", "authenticate": []}, "dev").pypiserver, ())[-1] == (
        gunicorn_conf.PACKAGES_DIR
    )


def test_the_program_folder_is_named_by_its_content_and_the_archive_is_the_same_every_run():
    first, again = program_files.archive(NO_RULES), program_files.archive(NO_RULES)
    assert first == again, "an unchanged program must never show a change"
    assert re.fullmatch(r"[0-9a-f]{16}", program_files.digest(NO_RULES))
    assert program_files.gunicorn_config(NO_RULES) == f"/data/hooks/{program_files.digest(NO_RULES)}/gunicorn.conf.py"
    assert program_files.indexer_program(NO_RULES) == f"/data/hooks/{program_files.digest(NO_RULES)}/static_index.py"


GIB = 1 << 30


@pytest.mark.parametrize(
    ("free", "in_flight", "size", "refused"),
    [
        (10 * GIB, 0, GIB, False),  # 100 GiB disk: the margin is 5 GiB
        (6 * GIB, 0, GIB, False),  # exactly the margin left
        (6 * GIB, 1, GIB, True),
        (7 * GIB, 2 * GIB, GIB, True),  # two uploads of 1 GiB already being stored
        (8 * GIB, GIB, GIB, False),
    ],
)
def test_an_upload_must_leave_the_margin_counting_the_uploads_being_stored(free, in_flight, size, refused):
    answer = disk_refusal(index_rules, free, 100 * GIB, in_flight, size)
    assert (answer is not None) == refused, answer
    if answer:
        assert answer[0].startswith("507") and "free space" in answer[1]


# Runs in pypiserver's own environment (the real bottle parses the uploads, as in the container), from
# the repository root (`python -c` puts the working directory first on its path).
TWO_UPLOADS = r"""
import io, sys, types
from components.in_container import gunicorn_conf, index_rules

SIZE = 1 << 20
TOTAL = 100 << 30
MARGIN = index_rules.margin(TOTAL)
FREE = MARGIN + SIZE + SIZE // 2  # room for one upload, not for two at once


def upload(name):
    boundary = "pypi-index-test"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\":action\"\r\n\r\nfile_upload\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"content\"; filename=\"{name}\"\r\n"
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode() + b"x" * SIZE + f"\r\n--{boundary}--\r\n".encode()
    return {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/", "CONTENT_TYPE": f"multipart/form-data; boundary={boundary}",
        "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body),
    }


answers = []


def answer(status, headers):
    answers.append(status)


def pypiserver(environ, start_response):
    if len(answers) == 0:  # the first upload is being stored when the second one arrives
        guarded(upload("second_tool-1.0.tar.gz"), answer)
    start_response("200 OK", [])
    return [b""]


disk = types.SimpleNamespace(f_bavail=FREE // 4096, f_frsize=4096, f_blocks=TOTAL // 4096)
guarded = gunicorn_conf.guard(pypiserver, index_rules, sys.argv[1], statvfs=lambda path: disk)
guarded(upload("first_tool-1.0.tar.gz"), answer)
guarded(upload("second_tool-1.0.tar.gz"), answer)  # again, once the first is stored
print(answers)
"""


def test_two_uploads_at_once_cannot_both_take_the_last_of_the_disk(tmp_path):
    venv = ensure_venv("v2.4.1")
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-c", TWO_UPLOADS, str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    second_during_first, first, second_after = ast.literal_eval(result.stdout.strip())
    assert second_during_first.startswith("507"), "the second upload would have eaten the margin"
    assert first.startswith("200") and second_after.startswith("200"), "alone, each fits"
