"""Delivering the in-container programs: the folder script run for real (sh, base64, tar), with a
`docker` on PATH that runs the script's inner shell here, the volume being a temporary folder."""

from __future__ import annotations

import stat
import subprocess
import time

import pytest

from components import volume_files
from components.in_container.project_access import render as render_access
from components.pypiserver import programs as program_files
from tests.support.stand_ins import put_on_path

# Runs what `docker run ... IMAGE -c INNER` would run in the container: INNER, in sh, with stdin.
FAKE_DOCKER = """#!/bin/sh
while [ "$1" != "-c" ]; do shift; done
exec sh -c "$2"
"""

NO_RULES = render_access({}, "uploaders")  # a stack without `owners`: access.json as delivered


@pytest.fixture
def deliver(tmp_path, monkeypatch):
    put_on_path(tmp_path / "bin", monkeypatch, docker=FAKE_DOCKER)
    volume = tmp_path / "hooks"
    volume.mkdir()

    def run(name: str, archive: str, keep: int = program_files.KEEP) -> subprocess.CompletedProcess:
        script = volume_files.write_volume_folder("pypiserver-hooks", str(volume), name, "img", keep)
        return subprocess.run(["sh", "-c", script], input=archive, text=True, capture_output=True, timeout=30)

    return volume, run


def test_the_programs_arrive_as_one_folder_named_by_their_content(deliver):
    volume, run = deliver
    result = run(program_files.digest(NO_RULES), program_files.archive(NO_RULES))
    assert result.returncode == 0, result.stderr
    folder = volume / program_files.digest(NO_RULES)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == program_files.texts(NO_RULES)
    assert sorted(p.name for p in volume.iterdir()) == [program_files.digest(NO_RULES)], "nothing left beside it"
    # Readable by the indexer (root without capabilities: no reading others' private files, seen with
    # the real engine) and by pypiserver's user, writable by neither.
    for path, mode in ((folder, 0o755), *((p, 0o644) for p in folder.iterdir())):
        info = path.stat()
        assert (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (mode, 0, 0), path


def test_an_existing_folder_is_never_rewritten(deliver):
    volume, run = deliver
    assert run(program_files.digest(NO_RULES), program_files.archive(NO_RULES)).returncode == 0
    marker = volume / program_files.digest(NO_RULES) / "gunicorn.conf.py"
    marker.write_text("what the running container read")
    assert run(program_files.digest(NO_RULES), program_files.archive(NO_RULES)).returncode == 0
    assert marker.read_text() == "what the running container read"


def test_a_delivered_folder_gets_its_owner_and_modes_back(deliver):
    """A folder left with other modes (an earlier delivery, a hand edit) is made readable again."""
    volume, run = deliver
    assert run(program_files.digest(NO_RULES), program_files.archive(NO_RULES)).returncode == 0
    folder = volume / program_files.digest(NO_RULES)
    folder.chmod(0o700)
    assert run(program_files.digest(NO_RULES), program_files.archive(NO_RULES)).returncode == 0
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755


def test_the_newest_folders_are_kept_and_older_releases_pruned(deliver):
    volume, run = deliver
    (volume / "gunicorn.conf.py").write_text("an earlier release's single file")
    names = [f"{n:016x}" for n in range(1, 5)]
    for name in names:
        time.sleep(0.02)  # distinct mtimes: `ls -t` orders by them
        assert run(name, program_files.archive(NO_RULES), keep=3).returncode == 0
    assert sorted(p.name for p in volume.iterdir()) == names[1:], "the newest three; the single file went first"
    # Going back to a kept release makes it the newest again, so it is not the next one pruned.
    time.sleep(0.02)
    assert run(names[1], program_files.archive(NO_RULES), keep=3).returncode == 0
    time.sleep(0.02)
    assert run(f"{5:016x}", program_files.archive(NO_RULES), keep=3).returncode == 0
    assert sorted(p.name for p in volume.iterdir()) == [names[1], names[3], f"{5:016x}"]
