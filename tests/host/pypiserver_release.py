"""The official files of a pypiserver release, from its sdist on PyPI.

pypiserver's sdist ships its image's files (the root `Dockerfile`, `docker/entrypoint.sh`,
`docker/gunicorn.conf.py`, `docker/docker-requirements.txt`) and the image's own tests
(`docker/test_docker.py`, with `fixtures/` and the `Makefile` that builds them). Everything that
stands in for the official image takes them from here, downloaded like any other sdist and unpacked
into the cache; none of them is copied into this repository.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import tarfile
import time
from pathlib import Path

from .commands import log, run

# pypiserver's setup_requires (setup.py: setuptools, setuptools-git, wheel), pinned: the image builds
# pypiserver from its source offline, and the official tests build their fixture packages with them.
BUILD_TOOLS = ("setuptools==80.9.0", "wheel==0.45.1", "setuptools-git==1.2")


def _cache() -> Path:
    from .images import cache_dir  # the one cache folder the image builder keeps

    return cache_dir() / "pypiserver-sdists"


def sdist_archive(version: str) -> Path:
    """`pypiserver-<version>.tar.gz` as PyPI serves it (pip checks the index's hash), downloaded once."""
    folder = _cache() / version
    archive = folder / f"pypiserver-{version}.tar.gz"
    if archive.exists():
        return archive
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    partial = folder / "download"
    start = time.monotonic()
    run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--no-binary=:all:", "--dest", str(partial), f"pypiserver=={version}"],
        timeout=600,
    )  # fmt: skip
    (partial / archive.name).rename(archive)
    shutil.rmtree(partial)
    log(f"pypiserver {version} sdist: downloaded in {time.monotonic() - start:.1f} s")
    return archive


def sdist_sha256(version: str) -> str:
    return hashlib.sha256(sdist_archive(version).read_bytes()).hexdigest()


def sdist_tree(version: str) -> Path:
    """The unpacked sdist (read-only use: copy it before building or testing in it)."""
    archive = sdist_archive(version)
    tree = archive.parent / f"pypiserver-{version}"
    done = archive.parent / ".unpacked"
    if done.exists():
        return tree
    shutil.rmtree(tree, ignore_errors=True)
    with tarfile.open(archive) as tar:
        _extract(tar, archive.parent)
    done.touch()
    return tree


def _extract(tar: tarfile.TarFile, destination: Path) -> None:
    """Unpack with the standard library's "data" filter, or its essentials where Python lacks it.

    Extraction filters came in 3.11.4; Debian 12's python3 is 3.11.2 (seen: `extractall() got an
    unexpected keyword argument 'filter'`). An sdist holds only files and folders under one top folder,
    so anything else (a link, a device, an absolute or `..` path) is refused rather than unpacked.
    """
    if hasattr(tarfile, "data_filter"):
        tar.extractall(destination, filter="data")
        return
    for member in tar.getmembers():
        parts = Path(member.name).parts
        if member.name.startswith("/") or ".." in parts or not (member.isfile() or member.isdir()):
            raise tarfile.TarError(f"the sdist: refusing to unpack {member.name!r} (only plain files and folders)")
    tar.extractall(destination)  # noqa: S202 -- every member checked above


def docker_file(version: str, relative: str) -> Path:
    """A file of the release's image, e.g. `docker/gunicorn.conf.py`, `docker/docker-requirements.txt`."""
    path = sdist_tree(version) / relative
    if not path.is_file():
        raise FileNotFoundError(f"pypiserver {version}'s sdist has no {relative}")
    return path


def image_requirements(version: str) -> list[str]:
    """The image's pinned requirements (docker/docker-requirements.txt), comments dropped."""
    text = docker_file(version, "docker/docker-requirements.txt").read_text()
    return [line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()]


def copy_tree(version: str, destination: Path) -> Path:
    """A private copy of the unpacked sdist (a build context, or a place to run the official tests)."""
    shutil.copytree(sdist_tree(version), destination, symlinks=True)
    return destination
