"""The indexer's pages: PEP 503 names, links with hashes, and a folder kept in step incrementally."""

from __future__ import annotations

import hashlib
import os

import pytest

from components.static_index import Indexer, disk_report, normalize, project_of


@pytest.mark.parametrize(
    ("filename", "project"),
    [
        ("Team_Tool-1.0.0-py3-none-any.whl", "team-tool"),
        ("team.tool-2.0.tar.gz", "team-tool"),
        ("zope.interface-6.0-cp311-cp311-manylinux_2_17_x86_64.whl", "zope-interface"),
        ("my-long-name-0.1.zip", "my-long-name"),
        ("legacy-1.0-py3.11.egg", "legacy"),
        (".htpasswd", None),
        ("README.txt", None),
        ("noversion.tar.gz", None),
        ("pkg-1.0.tar.gz.partial", None),
    ],
)
def test_project_of(filename, project):
    assert project_of(filename) == project


def test_normalize_is_pep_503():
    assert normalize("Friendly-Bard") == normalize("friendly.bard") == normalize("FRIENDLY__BARD") == "friendly-bard"


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
    import components.static_index as module

    def counting_sha256(path: str) -> str:
        hashed.append(path)
        return "0" * 64

    monkeypatch.setattr(module, "_sha256", counting_sha256)
    restarted = Indexer(str(packages), str(output))
    restarted.scan()
    assert hashed == [], "hashes come from the cache file while size and mtime are unchanged"
    (packages / "pkg0-1.0.tar.gz").write_bytes(b"changed")
    restarted.scan()
    assert [os.path.basename(p) for p in hashed] == ["pkg0-1.0.tar.gz"]


GIB = 1 << 30


@pytest.mark.parametrize(
    ("free", "total", "limit", "paused"),
    [
        (50 * GIB, 100 * GIB, GIB, False),  # plenty
        (6 * GIB + 1, 100 * GIB, GIB, False),  # 5 GiB margin (5 %) + the largest upload fit
        (6 * GIB - 1, 100 * GIB, GIB, True),
        (int(1.4 * GIB), 10 * GIB, GIB // 2, True),  # a small disk keeps at least 1 GiB: 1.5 GiB needed
        (int(1.6 * GIB), 10 * GIB, GIB // 2, False),
    ],
)
def test_uploads_pause_when_the_largest_upload_would_eat_the_margin(free, total, limit, paused):
    assert disk_report(free, total, limit)[0] is paused
    assert "GiB free of" in disk_report(free, total, limit)[1]


def test_the_indexer_raises_and_clears_the_pause_flag(tmp_path):
    packages, output = tmp_path / "packages", tmp_path / "index"
    packages.mkdir()
    output.mkdir()
    full = Indexer(str(packages), str(output), upload_limit=1 << 60)  # more than any disk has
    assert full.check_disk() and "uploads need" in (output / ".uploads-paused").read_text()
    # Whatever this machine's disk holds, the flag follows the verdict both ways.
    roomy_paused = Indexer(str(packages), str(output), upload_limit=0).check_disk()
    assert (output / ".uploads-paused").exists() is roomy_paused
