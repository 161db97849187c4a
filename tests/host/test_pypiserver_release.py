"""Unpacking the release's sdist on every Python the README accepts (3.11+, Debian 12's 3.11.2 too)."""

from __future__ import annotations

import io
import tarfile

import pytest

from .pypiserver_release import _extract


def _archive(tmp_path, *members: tarfile.TarInfo):
    path = tmp_path / "release.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for member in members:
            data = b"x" * member.size
            tar.addfile(member, io.BytesIO(data) if member.isfile() else None)
    return path


def _file(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = 3
    return info


def _link(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info


@pytest.fixture(params=[True, False], ids=["with-data-filter", "python-before-3.11.4"])
def filters(request, monkeypatch) -> bool:
    """Both paths of _extract: the standard library's filters (3.11.4+), and the fallback, forced by
    removing them. A Python without filters (Debian 12's 3.11.2) can only run the fallback."""
    if not request.param:
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    elif not hasattr(tarfile, "data_filter"):
        pytest.skip("this Python has no extraction filters; its cases run as python-before-3.11.4")
    return request.param


def test_an_sdist_unpacks_with_or_without_extraction_filters(tmp_path, filters):
    archive = _archive(tmp_path, _file("pkg-1.0/docker/entrypoint.sh"), _file("pkg-1.0/setup.py"))
    with tarfile.open(archive) as tar:
        _extract(tar, tmp_path / "out")
    assert (tmp_path / "out/pkg-1.0/docker/entrypoint.sh").read_bytes() == b"xxx"
    assert (tmp_path / "out/pkg-1.0/setup.py").is_file()


# The filters' errors (3.11.4+) and the fallback's are all tarfile.TarError.
REFUSED = tarfile.TarError


@pytest.mark.parametrize(
    "member", [_link("pkg-1.0/evil", "/etc/passwd"), _file("pkg-1.0/../../outside")], ids=["symlink-out", "dot-dot"]
)
def test_an_sdist_member_pointing_outside_its_folder_is_refused(tmp_path, member, filters):
    archive = _archive(tmp_path, member)
    with tarfile.open(archive) as tar, pytest.raises(REFUSED):
        _extract(tar, tmp_path / "out")
    assert not (tmp_path / "out/pkg-1.0/evil").is_symlink()
    assert not (tmp_path / "outside").exists()


def test_an_absolute_member_never_lands_at_its_absolute_path(tmp_path, filters):
    """The "data" filter unpacks `/abs/file` as `abs/file` inside; without filters it is refused."""
    target = tmp_path / "abs-target"
    archive = _archive(tmp_path, _file(str(target)))
    with tarfile.open(archive) as tar:
        if filters:
            _extract(tar, tmp_path / "out")
            assert (tmp_path / "out" / str(target).lstrip("/")).is_file()
        else:
            with pytest.raises(REFUSED):
                _extract(tar, tmp_path / "out")
    assert not target.exists()
