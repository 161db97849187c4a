"""The resolution benchmark's store: a few projects with dozens of versions each, depending on one another.

Six projects ``rb-app``, ``rb-web``, ``rb-orm``, ``rb-core``, ``rb-util``, ``rb-log``, each with versions
``1.0`` ... ``<n>.0``; every wheel carries ``payload`` bytes of incompressible data, so fetching a wheel
to read its metadata costs what it costs with real, sizeable wheels. The dependencies force a resolver
to read the metadata of many versions before it finds the answer (with c = ceil(n / 3)):

    rb-app  i   needs rb-web, rb-orm, rb-core<=ceil(i/3)   the newest app pins core down to c
    rb-web  i   needs rb-core>=i, rb-util                  so every web above c conflicts: backtrack
    rb-orm  i   needs rb-core>=ceil(i/3), rb-log           the newest orm needs core >= c: core == c
    rb-core i   needs rb-util>=ceil(i/2)
    rb-util i   needs rb-log
    rb-log  i   needs nothing

The one answer for ``rb-app``: app n, web c, orm n, core c, util n, log n; a resolver walks web down
from n to c, reading the metadata of each (n - c + 1 versions), plus one or two of each other project.

The wheels are built as bdist_wheel builds them (payload first, the ``.dist-info`` last, RECORD last),
deterministically (a fixed timestamp, payload from a seeded generator): the same spec gives the same
bytes. Generated once per spec into ``<repo>/.cache/bench/resolve-<n>x<payload>-<layout>/packages/``
(atomically, as bench/store.py does), with ``manifest.json`` beside it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
import zipfile
from dataclasses import dataclass
from pathlib import Path

from bench.store import generated_once

LAYOUT = "r1"  # bump when the layout or the dependencies below change
PREFIX = "rb"
ROLES = ("app", "web", "orm", "core", "util", "log")
TOP = f"{PREFIX}-app"
STAMP = (2024, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Spec:
    versions: int  # per project
    payload: int  # bytes of incompressible data per wheel

    @property
    def key(self) -> str:
        return f"{self.versions}x{self.payload // 1024}k"


FULL = Spec(versions=30, payload=1536 * 1024)  # 180 wheels, 1.5 MB each (~270 MB)
QUICK = Spec(versions=10, payload=512 * 1024)  # 60 wheels, 0.5 MB each (~30 MB)


def project(role: str) -> str:
    return f"{PREFIX}-{role}"


def version(i: int) -> str:
    return f"{i}.0"


def requirements(role: str, i: int) -> list[str]:
    """The Requires-Dist of version ``i`` of project ``role`` (see the module's docstring)."""
    third, half = math.ceil(i / 3), math.ceil(i / 2)
    return {
        "app": [project("web"), project("orm"), f"{project('core')}<={third}"],
        "web": [f"{project('core')}>={i}", project("util")],
        "orm": [f"{project('core')}>={third}", project("log")],
        "core": [f"{project('util')}>={half}"],
        "util": [project("log")],
        "log": [],
    }[role]


def expected(spec: Spec) -> dict[str, str]:
    """What resolving ``rb-app`` must give (normalized name -> version)."""
    n, c = spec.versions, math.ceil(spec.versions / 3)
    chosen = {"app": n, "web": c, "orm": n, "core": c, "util": n, "log": n}
    return {project(role): version(i) for role, i in chosen.items()}


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(folder: Path, name: str, ver: str, requires: list[str], payload: int) -> Path:
    """A valid pure-Python wheel with ``Requires-Dist`` and ``payload`` incompressible bytes, dist-info last."""
    module = name.replace("-", "_")
    dist_info = f"{module}-{ver}.dist-info"
    metadata = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {ver}\nSummary: resolution benchmark package\n"
        + "".join(f"Requires-Dist: {r}\n" for r in requires)
    )
    seeded = random.Random(f"{name}=={ver}")  # noqa: S311  (filler bytes, not a secret)
    members: list[tuple[str, bytes, int]] = [
        (f"{module}/__init__.py", f'VERSION = "{ver}"\n'.encode(), zipfile.ZIP_DEFLATED),
        # Random bytes do not deflate: stored, as a compressor would end up storing them.
        (f"{module}/payload.bin", seeded.randbytes(payload), zipfile.ZIP_STORED),
        (f"{dist_info}/METADATA", metadata.encode(), zipfile.ZIP_DEFLATED),
        (
            f"{dist_info}/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: pypi-index-bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
            zipfile.ZIP_DEFLATED,
        ),
    ]
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data, _ in members)
    members.append((f"{dist_info}/RECORD", (record + f"{dist_info}/RECORD,,\n").encode(), zipfile.ZIP_DEFLATED))
    path = folder / f"{module}-{ver}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for member, data, method in members:
            info = zipfile.ZipInfo(member, date_time=STAMP)
            info.compress_type = method
            info.external_attr = 0o644 << 16
            wheel.writestr(info, data)
    return path


def generate(folder: Path, spec: Spec) -> dict:
    """Write every wheel of ``spec`` into ``folder/packages`` and return the manifest (also written)."""
    packages = folder / "packages"
    packages.mkdir(parents=True, exist_ok=True)
    files: dict[str, list[str]] = {}
    for role in ROLES:
        name = project(role)
        files[name] = [
            build_wheel(packages, name, version(i), requirements(role, i), spec.payload).name
            for i in range(1, spec.versions + 1)
        ]
    manifest = {
        "layout": LAYOUT,
        "versions": spec.versions,
        "payload": spec.payload,
        "files": files,
        "expected": expected(spec),
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


@dataclass(frozen=True)
class ResolveStore:
    root: Path
    spec: Spec
    files: dict[str, list[str]]  # project -> wheel file names, oldest first
    expected: dict[str, str]

    @property
    def packages(self) -> Path:
        return self.root / "packages"

    @property
    def wheel_count(self) -> int:
        return sum(len(f) for f in self.files.values())

    @property
    def total_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.packages.iterdir())


def ensure_store(spec: Spec, cache: Path) -> ResolveStore:
    """The store of ``spec`` under ``cache``, generated once (a half-written one is never reused)."""
    folder = cache / f"resolve-{spec.key}-{LAYOUT}"
    manifest = generated_once(folder, lambda tmp: generate(tmp, spec))
    store = ResolveStore(folder, spec, manifest["files"], manifest["expected"])
    if store.wheel_count != len(ROLES) * spec.versions or manifest["expected"] != expected(spec):
        raise RuntimeError(f"{folder} does not hold the store of {spec}: delete it")
    return store
