"""The indexer's pages: PEP 503 names, links with hashes, and a folder kept in step incrementally."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from components.in_container import disk_watch, folder_watch, fs, static_index
from components.in_container.project_access import render as render_access
from components.in_container.static_index import Indexer
from components.pypiserver import programs as program_files
from tests.support.index_client import make_wheel
from tests.support.real_pypiserver import unpack_programs

NO_RULES = render_access({}, "uploaders")  # a stack without `owners`: access.json as delivered


@pytest.fixture(autouse=True)
def settled_at_once(monkeypatch):
    """These tests write a file and scan at once; the settling delay has a test of its own."""
    monkeypatch.setattr(static_index, "SETTLE_SECONDS", 0.0)


def test_a_file_no_project_can_be_named_after_never_reaches_a_page(tmp_path):
    """Files copied in by hand or restored skip pypiserver's checks: the pages still carry no markup."""
    packages, output = tmp_path / "packages", tmp_path / "index"
    packages.mkdir()
    (packages / "<script>alert(1)-1.0.tar.gz").write_bytes(b"x")
    (packages / '"><img src=x onerror=alert(1)>-1.0-py3-none-any.whl').write_bytes(b"y")
    (packages / "fine-1.0.tar.gz").write_bytes(b"z")
    Indexer(str(packages), str(output)).scan()
    # Every file the indexer writes, its binary record included (read with replacement characters).
    pages = {p.relative_to(output).as_posix(): p.read_text(errors="replace") for p in output.rglob("*") if p.is_file()}
    assert sorted(n for n in pages if n.startswith("simple/")) == [
        "simple/fine/index.html", "simple/fine/index.json", "simple/index.html", "simple/index.json",
    ]  # fmt: skip
    assert not any("<script" in text or "<img" in text or "onerror" in text for text in pages.values())


def test_pages_link_each_file_with_its_hash_and_follow_changes(tmp_path):
    packages, output = tmp_path / "packages", tmp_path / "index"
    packages.mkdir()
    first = packages / "team_tool-1.0-py3-none-any.whl"
    first.write_bytes(b"one")
    (packages / ".hidden-1.0.tar.gz").write_bytes(b"x")
    indexer = Indexer(str(packages), str(output))
    assert indexer.scan() == 2  # the project's page and the root page
    page = (output / "simple" / "team-tool" / "index.html").read_text()
    digest = hashlib.sha256(b"one").hexdigest()
    assert f'href="../../packages/team_tool-1.0-py3-none-any.whl#sha256={digest}"' in page
    assert '<a href="team-tool/">team-tool</a>' in (output / "simple" / "index.html").read_text()
    assert "hidden" not in (output / "simple" / "index.html").read_text()

    assert indexer.scan() == 0, "nothing changed, nothing written"
    (packages / "team_tool-1.1-py3-none-any.whl").write_bytes(b"two")
    (packages / "other-0.1.tar.gz").write_bytes(b"three")
    assert indexer.scan() == 3  # team-tool's page, other's page, the root page
    assert "team_tool-1.1-py3-none-any.whl" in (output / "simple" / "team-tool" / "index.html").read_text()

    first.unlink()
    (packages / "other-0.1.tar.gz").unlink()
    indexer.scan()
    assert not (output / "simple" / "other").exists(), "a project with no files left has no page"
    assert "team_tool-1.0" not in (output / "simple" / "team-tool" / "index.html").read_text()
    assert "other" not in (output / "simple" / "index.html").read_text()


def test_a_restart_does_not_rehash_the_store(tmp_path, monkeypatch):
    packages, output = tmp_path / "packages", tmp_path / "index"
    packages.mkdir()
    for i in range(5):
        (packages / f"pkg{i}-1.0.tar.gz").write_bytes(os.urandom(64))
    Indexer(str(packages), str(output)).scan()
    hashed: list[str] = []

    def counting_sha256(path: str) -> str:
        hashed.append(path)
        return "0" * 64

    monkeypatch.setattr(fs, "sha256", counting_sha256)
    restarted = Indexer(str(packages), str(output))
    restarted.scan()
    assert hashed == [], "hashes come from the cache file while size and mtime are unchanged"
    (packages / "pkg0-1.0.tar.gz").write_bytes(b"changed")
    restarted.scan()
    assert [os.path.basename(p) for p in hashed] == ["pkg0-1.0.tar.gz"]


def test_wheels_get_their_core_metadata_and_requires_python(tmp_path):
    from tests.support.index_client import make_wheel

    packages, output = tmp_path / "packages", tmp_path / "index"
    packages.mkdir()
    wheel = make_wheel(packages, "Odd_Name", "2.0", requires_python='>=3.9,!=3.10.*,<4 "quoted"')
    (packages / "odd-name-1.0.tar.gz").write_bytes(b"an sdist")
    Indexer(str(packages), str(output)).scan()
    metadata = (output / "metadata" / f"{wheel.name}.metadata").read_bytes()
    assert metadata.startswith(b"Metadata-Version: 2.1\nName: Odd_Name\nVersion: 2.0")
    page = json.loads((output / "simple" / "odd-name" / "index.json").read_text())
    assert page["versions"] == ["1.0", "2.0"]
    by_name = {f["filename"]: f for f in page["files"]}
    assert by_name[wheel.name]["core-metadata"] == {"sha256": hashlib.sha256(metadata).hexdigest()}
    assert by_name[wheel.name]["requires-python"] == '>=3.9,!=3.10.*,<4 "quoted"'
    assert by_name["odd-name-1.0.tar.gz"]["core-metadata"] is False, "sdists advertise no metadata file"
    assert by_name["odd-name-1.0.tar.gz"]["requires-python"] is None
    html_page = (output / "simple" / "odd-name" / "index.html").read_text()
    assert 'data-requires-python="&gt;=3.9,!=3.10.*,&lt;4 &quot;quoted&quot;"' in html_page
    assert html_page.count("data-core-metadata=") == 1
    # A removed wheel takes its metadata with it.
    wheel.unlink()
    Indexer(str(packages), str(output)).scan()
    assert not (output / "metadata" / f"{wheel.name}.metadata").exists()
    assert [
        f["filename"] for f in json.loads((output / "simple" / "odd-name" / "index.json").read_text())["files"]
    ] == ["odd-name-1.0.tar.gz"]


def test_a_file_still_being_written_is_listed_only_once_it_has_settled(tmp_path, monkeypatch):
    monkeypatch.setattr(static_index, "SETTLE_SECONDS", 1.0)
    packages, output = tmp_path / "packages", tmp_path / "index"
    packages.mkdir()
    growing = packages / "slow_tool-1.0-py3-none-any.whl"
    growing.write_bytes(b"half of it")
    indexer = Indexer(str(packages), str(output))
    indexer.scan()
    assert indexer.unsettled and not (output / "simple" / "slow-tool").exists(), "no page names a half file"
    old = growing.stat().st_mtime - 5
    os.utime(growing, (old, old))  # as if the upload had finished five seconds ago
    indexer.scan()
    assert (
        not indexer.unsettled
        and "slow_tool-1.0-py3-none-any.whl" in (output / "simple" / "slow-tool" / "index.html").read_text()
    )


def test_a_file_its_writer_closed_is_listed_at_once(tmp_path, monkeypatch):
    """pypiserver closes an upload before it answers: the close (seen through inotify) lists the
    file without the settling delay, so an upload is installable as soon as twine returns."""
    monkeypatch.setattr(static_index, "SETTLE_SECONDS", 60.0)
    packages, output = tmp_path / "packages", tmp_path / "index"
    packages.mkdir()
    watch = folder_watch.Watch.open(str(packages))
    assert watch is not None, "inotify is available on Linux"
    indexer = Indexer(str(packages), str(output))
    name = "quick_tool-1.0-py3-none-any.whl"
    with open(packages / name, "wb") as upload:
        upload.write(b"first half")
        upload.flush()
        indexer.closed = folder_watch.closed_files(indexer.closed, watch.read(1.0))
        indexer.scan()
        assert indexer.unsettled and not (output / "simple" / "quick-tool").exists(), "still being written"
        upload.write(b" and the rest")
    indexer.closed = folder_watch.closed_files(indexer.closed, watch.read(1.0))
    indexer.scan()
    assert not indexer.unsettled and name in (output / "simple" / "quick-tool" / "index.html").read_text()
    assert indexer.files[name]["sha256"] == hashlib.sha256(b"first half and the rest").hexdigest()


def test_yanked_releases_are_marked_not_deleted_and_unyanking_clears_the_mark(tmp_path, capsys):
    packages, output = tmp_path / "packages", tmp_path / "index"
    packages.mkdir()
    for version in ("1.0", "1.2.0"):
        (packages / f"team_tool-{version}-py3-none-any.whl").write_bytes(version.encode())
        (packages / f"team_tool-{version}.tar.gz").write_bytes(version.encode())
    indexer = Indexer(str(packages), str(output))
    indexer.scan()
    yank_file = output / static_index.YANKED_FILE
    yank_file.write_text(json.dumps({"team-tool": {"1.2": 'broken "wheel" <b>', "3.0": ""}}))
    assert indexer.scan() == 1, "the yank re-renders the project's page"
    page = (output / "simple" / "team-tool" / "index.html").read_text()
    for name in ("team_tool-1.2.0-py3-none-any.whl", "team_tool-1.2.0.tar.gz"):
        line = next(line for line in page.splitlines() if name + "#" in line)
        assert 'data-yanked="broken &quot;wheel&quot; &lt;b&gt;"' in line  # PEP 592, escaped
    assert next(line for line in page.splitlines() if "team_tool-1.0-" in line).count("data-yanked") == 0
    files = {
        f["filename"]: f for f in json.loads((output / "simple" / "team-tool" / "index.json").read_text())["files"]
    }
    assert (
        files["team_tool-1.2.0.tar.gz"]["yanked"] == 'broken "wheel" <b>'
        and files["team_tool-1.0.tar.gz"]["yanked"] is False
    )
    assert all((packages / name).exists() for name in files), "nothing is deleted"
    log = capsys.readouterr().out
    assert "yanked team-tool 1.2\n" in log and "yanked team-tool 3: no such file here" in log

    yank_file.write_text(json.dumps({"team-tool": {"1.2.0": ""}}))
    indexer.scan()
    files = {
        f["filename"]: f for f in json.loads((output / "simple" / "team-tool" / "index.json").read_text())["files"]
    }
    assert files["team_tool-1.2.0.tar.gz"]["yanked"] is True, "no reason: true (PEP 691)"
    assert 'data-yanked=""' in (output / "simple" / "team-tool" / "index.html").read_text()

    yank_file.write_text("{}")
    indexer.scan()
    assert "data-yanked" not in (output / "simple" / "team-tool" / "index.html").read_text()


def test_the_store_side_of_the_audit_names_each_file_added_replaced_or_removed(tmp_path, capsys):
    packages, output = tmp_path / "packages", tmp_path / "index"
    packages.mkdir()
    (packages / "old_tool-1.0.tar.gz").write_bytes(b"old")
    indexer = Indexer(str(packages), str(output))
    indexer.scan()
    assert "audit:" not in capsys.readouterr().out, "the store as it was is not news"
    (packages / "new_tool-1.0.tar.gz").write_bytes(b"new")
    indexer.scan()
    digest = hashlib.sha256(b"new").hexdigest()
    assert f"audit: file added 'new_tool-1.0.tar.gz' sha256={digest} size=3\n" in capsys.readouterr().out
    (packages / "new_tool-1.0.tar.gz").write_bytes(b"other")
    old = (packages / "new_tool-1.0.tar.gz").stat().st_mtime - 5  # settled, and another mtime than before
    os.utime(packages / "new_tool-1.0.tar.gz", (old, old))
    (packages / "old_tool-1.0.tar.gz").unlink()
    indexer.scan()
    log = capsys.readouterr().out
    assert f"audit: file replaced 'new_tool-1.0.tar.gz' sha256={hashlib.sha256(b'other').hexdigest()} size=5" in log
    assert f"audit: file removed 'old_tool-1.0.tar.gz' sha256={hashlib.sha256(b'old').hexdigest()}\n" in log
    restarted = Indexer(str(packages), str(output))
    (packages / "third-1.0.tar.gz").write_bytes(b"3")
    restarted.scan()
    assert "audit: file added 'third-1.0.tar.gz'" in capsys.readouterr().out, "a change while it was down is news"


def test_a_file_that_killed_the_indexer_while_read_is_listed_without_metadata_after_the_restart(tmp_path, capsys):
    packages, output = tmp_path / "packages", tmp_path / "index"
    packages.mkdir()
    make_wheel(packages, "poison-tool", "1.0")
    output.mkdir()
    (output / ".reading").write_text("poison_tool-1.0-py3-none-any.whl")  # as a killed indexer leaves it
    indexer = Indexer(str(packages), str(output))
    indexer.scan()
    page = (output / "simple" / "poison-tool" / "index.html").read_text()
    assert "poison_tool-1.0-py3-none-any.whl" in page and "data-core-metadata" not in page
    assert "stopped the indexer while it was read" in capsys.readouterr().out
    assert not (output / ".reading").exists()
    make_wheel(packages, "healthy-tool", "1.0")
    indexer.scan()
    assert "data-core-metadata" in (output / "simple" / "healthy-tool" / "index.html").read_text()
    assert not (output / ".reading").exists(), "cleared after each read"


def _tree(folder):
    """Every page and metadata file the indexer keeps, by path (its own bookkeeping left out)."""
    own = {disk_watch.DISK_REPORT, disk_watch.PAUSED_FLAG, ".reading"}
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name not in own and not path.name.startswith(static_index.RECORD_FILE)
    }


def _store(packages):
    make_wheel(packages, "keep-tool", "1.0")
    make_wheel(packages, "keep-tool", "1.1", requires_python=">=3.9")
    make_wheel(packages, "last-tool", "1.0")
    (packages / "plain_sdist-2.0.tar.gz").write_bytes(b"sdist")


def _replace(packages):
    wheel = next(packages.glob("keep_tool-1.0-*.whl"))
    wheel.unlink()
    make_wheel(packages, "keep-tool", "1.0", requires_python=">=3.12")  # same name, other content


# Every way a store can change while the indexer is not running.
CHANGES_WHILE_DOWN = {
    "file added": lambda p: make_wheel(p, "keep-tool", "2.0"),
    "file replaced": _replace,
    "file removed": lambda p: next(p.glob("keep_tool-1.1-*.whl")).unlink(),
    "last file of a project removed": lambda p: next(p.glob("last_tool-*.whl")).unlink(),
    "project added": lambda p: make_wheel(p, "new-tool", "0.1"),
    "every file removed": lambda p: [f.unlink() for f in p.iterdir()],
    "sdist replaced by another": lambda p: (p / "plain_sdist-2.0.tar.gz").write_bytes(b"other sdist"),
}


@pytest.mark.parametrize("change", list(CHANGES_WHILE_DOWN), ids=list(CHANGES_WHILE_DOWN))
def test_after_a_restart_the_pages_are_the_store_whatever_changed_while_down(tmp_path, change):
    packages, output = tmp_path / "packages", tmp_path / "index"
    packages.mkdir()
    _store(packages)
    Indexer(str(packages), str(output)).scan()
    # The indexer stops (its memory goes), the store changes, a new one starts on the same volume.
    CHANGES_WHILE_DOWN[change](packages)
    Indexer(str(packages), str(output)).scan()
    fresh = tmp_path / "fresh"
    Indexer(str(packages), str(fresh)).scan()
    assert _tree(output) == _tree(fresh), "the restarted indexer's pages differ from a fresh index of the store"


def test_after_a_restart_without_its_cache_the_pages_are_still_the_store(tmp_path):
    packages, output = tmp_path / "packages", tmp_path / "index"
    packages.mkdir()
    _store(packages)
    Indexer(str(packages), str(output)).scan()
    for record in output.glob(static_index.RECORD_FILE + "*"):  # with sqlite's -wal and -shm files, if any
        record.unlink()  # lost or unreadable: nothing it remembered can be trusted
    next(packages.glob("last_tool-*.whl")).unlink()
    next(packages.glob("keep_tool-1.1-*.whl")).unlink()
    Indexer(str(packages), str(output)).scan()
    fresh = tmp_path / "fresh"
    Indexer(str(packages), str(fresh)).scan()
    assert _tree(output) == _tree(fresh)


def test_the_indexer_stops_at_once_and_cleanly_when_docker_asks(tmp_path):
    """`docker stop` sends SIGTERM to PID 1, which has no default action for it: the indexer must
    handle it, or every replacement waits out the grace period (20 s) and then kills it."""
    packages, output = tmp_path / "packages", tmp_path / "index"
    packages.mkdir()
    make_wheel(packages, "stop-tool", "1.0")
    # As the container runs it: the file, from the folder that holds its siblings.
    process = subprocess.Popen(
        [sys.executable, static_index.__file__, str(packages), str(output), "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 20
        while not (output / "simple" / "stop-tool" / "index.html").exists():
            assert time.monotonic() < deadline and process.poll() is None, "the indexer did not start"
            time.sleep(0.05)
        asked = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=5)
        took = time.monotonic() - asked
    finally:
        process.kill()
    assert code == 0, f"ended by the signal itself ({code}), not by the indexer's handler"
    assert took < 2, f"took {took:.1f} s to stop"
    assert "indexer: stopped" in (process.stdout.read() if process.stdout else "")
    leftovers = [p.name for p in output.rglob("*") if p.name.endswith(".tmp") or p.name == ".reading"]
    assert not leftovers, leftovers


def test_a_file_removed_while_the_folder_is_read_is_skipped_not_fatal(tmp_path, monkeypatch):
    """pypiserver's removal API (or a hand) can remove a file between the indexer's listing of the
    folder and its look at the file: the scan must go on, and the next one see the folder as it is."""
    packages, output = tmp_path / "packages", tmp_path / "index"
    packages.mkdir()
    make_wheel(packages, "kept-tool", "1.0")
    gone = make_wheel(packages, "gone-tool", "1.0")
    (packages / "gone_sdist-1.0.tar.gz").write_bytes(b"sdist")
    indexer = Indexer(str(packages), str(output))
    listing = os.scandir

    def listing_then_removal(path):  # the folder may be listed twice in a scan (a second look at what differs)
        entries = list(listing(path))
        gone.unlink(missing_ok=True)
        (packages / "gone_sdist-1.0.tar.gz").unlink(missing_ok=True)
        return contextlib.nullcontext(entries)

    monkeypatch.setattr(static_index.os, "scandir", listing_then_removal)
    indexer.scan()
    monkeypatch.undo()
    indexer.scan()
    fresh = tmp_path / "fresh"
    Indexer(str(packages), str(fresh)).scan()
    assert _tree(output) == _tree(fresh)
    assert not (output / ".reading").exists()


def test_the_delivered_indexer_runs_from_its_folder_as_the_container_runs_it(tmp_path):
    """Unpacked as the deployment unpacks it and started as the indexer's container starts it
    (`python3 <folder>/static_index.py PACKAGES OUTPUT LIMIT`): its siblings import without the
    package, it writes the pages and the disk reading, and SIGTERM stops it at once."""
    folder = tmp_path / program_files.digest(NO_RULES)
    unpack_programs(program_files.archive(NO_RULES), folder)
    packages, output = tmp_path / "packages", tmp_path / "index"
    packages.mkdir()
    output.mkdir()
    make_wheel(packages, "flat-run", "1.0")
    indexer = subprocess.Popen(
        [sys.executable, str(folder / "static_index.py"), str(packages), str(output), "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        page = output / "simple" / "flat-run" / "index.html"  # once the wheel has settled (1 s)
        deadline = time.monotonic() + 30
        while not page.exists() and time.monotonic() < deadline:
            assert indexer.poll() is None, indexer.communicate()[0]
            time.sleep(0.1)
        assert page.exists() and "flat_run-1.0-py3-none-any.whl" in page.read_text()
        assert "free of" in (output / disk_watch.DISK_REPORT).read_text()
    finally:
        indexer.send_signal(signal.SIGTERM)
        log, _ = indexer.communicate(timeout=10)
    assert indexer.returncode == 0 and "indexer: stopped" in log, log
