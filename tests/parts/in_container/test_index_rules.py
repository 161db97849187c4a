"""The rules the indexer lists by and the upload guard accepts by (index_rules.py): project names,
PEP 503 normalisation, versions as PEP 440 compares them, core metadata, and the disk margin."""

from __future__ import annotations

import zipfile

import pytest

from components.in_container import index_rules
from components.in_container.index_rules import disk_report, normalize, project_of


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
        ("a-1.0.tar.gz", "a"),
        # No project can be named so (PEP 508): never a page, never a link.
        ("<img src=x onerror=alert(1)>-1.0.tar.gz", None),
        ('a"b-1.0-py3-none-any.whl', None),
        ("x&y-1.0.tar.gz", None),
        ("-lead-1.0.tar.gz", None),
        ("trail.-1.0.tar.gz", None),
        ("sp ace-1.0.tar.gz", None),
    ],
)
def test_project_of(filename, project):
    assert project_of(filename) == project


def test_normalize_is_pep_503():
    assert normalize("Friendly-Bard") == normalize("friendly.bard") == normalize("FRIENDLY__BARD") == "friendly-bard"


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


@pytest.mark.parametrize(
    ("version", "canonical"),
    [
        ("1.2.0", "1.2"),
        ("V1.2", "1.2"),
        ("1.0.0rc1", "1rc1"),
        ("2.10", "2.10"),
        ("01.0", "1"),
        ("1.0+local", "1+local"),
    ],
)
def test_canonical_version_matches_what_pep_440_calls_equal(version, canonical):
    assert index_rules.canonical_version(version) == canonical


def test_a_wheel_whose_metadata_inflates_beyond_reason_is_listed_without_it(tmp_path, monkeypatch):
    monkeypatch.setattr(index_rules, "METADATA_MAX", 1000)
    wheel = tmp_path / "bomb-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb-1.0.dist-info/METADATA", b"Metadata-Version: 2.1\nName: bomb\n" + b" " * 5000)
    assert index_rules.wheel_metadata(str(wheel)) is None
    monkeypatch.setattr(index_rules, "METADATA_MAX", 10_000)
    assert (index_rules.wheel_metadata(str(wheel)) or b"").startswith(b"Metadata-Version")
