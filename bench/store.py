"""The benchmark's package store: N small valid wheels plus a static PEP 503 tree of them.

Generated once per size into ``<repo>/.cache/bench/store-<N>-<layout>/`` (atomically: a half-written
store is never reused) and copied into every configuration's Docker volume, so all four serve the
same files:

    packages/<module>-<version>-py3-none-any.whl   what pypiserver serves (its /data/packages)
    simple/index.html, simple/<name>/index.html    the static tree nginx serves next to packages/
    manifest.json                                  projects, files, sizes and sha256 digests

N/5 projects ``pkg-0000``... with versions 1.0.0 to 1.0.4, except two projects whose newest file
is padded: ``sized-10kb`` (about 10 KB) and ``sized-5mb`` (about 5 MB).
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.index_client import make_wheel

REPO_ROOT = Path(__file__).resolve().parents[1]
LAYOUT = "v1"  # bump when the layout below changes: a new cache folder is generated
VERSIONS = tuple(f"1.0.{i}" for i in range(5))
SMALL, LARGE = "sized-10kb", "sized-5mb"
# Padding (incompressible) so that the whole wheel is close to the nominal size.
PADDING = {SMALL: 10 * 1024 - 700, LARGE: 5 * 1024 * 1024 - 700}


@dataclass(frozen=True)
class Project:
    name: str  # normalized (PEP 503), as in /simple/<name>/
    files: tuple[str, ...]  # oldest to newest; pip picks the last
    sha256: tuple[str, ...]

    @property
    def newest(self) -> str:
        return self.files[-1]


@dataclass(frozen=True)
class Store:
    root: Path
    projects: tuple[Project, ...]

    @property
    def packages(self) -> Path:
        return self.root / "packages"

    @property
    def file_count(self) -> int:
        return sum(len(p.files) for p in self.projects)

    def project(self, name: str) -> Project:
        return next(p for p in self.projects if p.name == name)

    def size(self, filename: str) -> int:
        return (self.packages / filename).stat().st_size


def cache_root() -> Path:
    root = REPO_ROOT / ".cache" / "bench"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _page(title: str, links: list[tuple[str, str]]) -> str:
    body = "\n".join(f'    <a href="{html.escape(href)}">{html.escape(text)}</a><br>' for href, text in links)
    return (
        '<!DOCTYPE html>\n<html>\n  <head>\n    <meta name="pypi:repository-version" content="1.0">\n'
        f"    <title>{html.escape(title)}</title>\n  </head>\n  <body>\n{body}\n  </body>\n</html>\n"
    )


def _generate(folder: Path, n_files: int) -> None:
    packages = folder / "packages"
    packages.mkdir(parents=True)
    names = [SMALL, LARGE] + [f"pkg-{i:04d}" for i in range(n_files // len(VERSIONS) - 2)]
    projects: list[dict[str, Any]] = []
    for name in names:
        files, digests = [], []
        for version in VERSIONS:
            padding = PADDING.get(name, 0) if version == VERSIONS[-1] else 0
            wheel = make_wheel(packages, name, version, size=padding)
            files.append(wheel.name)
            digests.append(_sha256(wheel))
        projects.append({"name": name, "files": files, "sha256": digests})
        page = folder / "simple" / name / "index.html"
        page.parent.mkdir(parents=True)
        page.write_text(
            _page(
                f"Links for {name}",
                [(f"../../packages/{f}#sha256={d}", f) for f, d in zip(files, digests, strict=True)],
            )
        )
    (folder / "simple" / "index.html").write_text(
        _page("Simple index", [(f"{p['name']}/", p["name"]) for p in sorted(projects, key=lambda p: p["name"])])
    )
    (folder / "manifest.json").write_text(json.dumps({"layout": LAYOUT, "projects": projects}))


def generated_once(folder: Path, generate: Callable[[Path], object]) -> dict[str, Any]:
    """The manifest of `folder`, generating it first if it has none. A store is generated in a
    scratch folder and renamed into place, so a half-written one (an interrupted run) is never
    reused; the folder is readable by the containers that copy it."""
    if not (folder / "manifest.json").exists():
        shutil.rmtree(folder, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
        try:
            generate(tmp)
            os.chmod(tmp, 0o755)  # noqa: S103
            tmp.rename(folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return json.loads((folder / "manifest.json").read_text())


def ensure_store(n_files: int) -> Store:
    """The store of ``n_files`` package files (a multiple of 5, at least 10), generated once."""
    if n_files % len(VERSIONS) or n_files < 2 * len(VERSIONS):
        raise ValueError(f"n_files must be a multiple of {len(VERSIONS)}, at least {2 * len(VERSIONS)}")
    root = cache_root()
    folder = root / f"store-{n_files}-{LAYOUT}"
    manifest = generated_once(folder, lambda tmp: _generate(tmp, n_files))
    projects = tuple(Project(p["name"], tuple(p["files"]), tuple(p["sha256"])) for p in manifest["projects"])
    store = Store(folder, projects)
    if store.file_count != n_files:
        raise RuntimeError(f"{folder} holds {store.file_count} files, not {n_files}: delete it")
    return store
