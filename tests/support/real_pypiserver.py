"""The real pypiserver, at the version the image tag pins and with the image's own library pins,
started on loopback with the arguments and htpasswd file the program produces.

It runs in a virtualenv of its own (cached under .cache/): the image's passlib 1.7.4 + bcrypt 3.2
cannot share one with the program's libpass + bcrypt 5, and the hashes must verify THERE.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from components.pypiserver import args as server_args
from tests.host import pypiserver_release
from tests.host.images import cache_dir
from tests.support.index_client import wait_healthy
from tests.support.recorded import Deployment, reveal


def ensure_venv(version: str) -> Path:
    """A virtualenv with pypiserver==version and its image's pins (docker/docker-requirements.txt of
    the release); built once, then reused."""
    release = version.lstrip("v")
    venv = cache_dir().parent / f"pypiserver-{version}-venv"
    marker = venv / "pins.txt"
    pins = "\n".join([f"pypiserver=={release}", *pypiserver_release.image_requirements(release)]) + "\n"
    if marker.exists() and marker.read_text() == pins:
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "--only-binary=:all:", *pins.split()],
        check=True,
        timeout=600,
    )
    marker.write_text(pins)
    return venv


@dataclass
class RunningIndex:
    url: str
    port: int
    packages: Path
    htpasswd: Path
    process: subprocess.Popen
    log: Path
    command: list[str]
    workdir: Path
    env: dict[str, str]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def start(self) -> None:
        """Start it again with the same command (after `stop`)."""
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(
                self.command, cwd=self.workdir, stdout=sink, stderr=subprocess.STDOUT, env=self.env
            )


def localize(args: list[str], packages: Path, htpasswd: Path, port: int) -> list[str]:
    """The container's arguments with its paths and port mapped onto this machine, and loopback only."""
    mapping = {server_args.PACKAGES_DIR: str(packages), server_args.HTPASSWD: str(htpasswd)}
    local = [mapping.get(a, a) for a in args]
    local[local.index("--port") + 1] = str(port)
    return [*local[:1], "--host", "127.0.0.1", *local[1:]]


@contextmanager
def running_index(
    args: list[str],
    htpasswd_text: str | None,
    workdir: Path,
    version: str,
    port: int,
    env: Sequence[str] = (),
    programs: str | None = None,
) -> Iterator[RunningIndex]:
    """pypiserver as the container runs it: `args`, `env` (the container's envs) and, where `env`
    names it, the program's gunicorn configuration from `programs` (the archive the deployment
    delivers into the hooks volume: program_files.archive()), with paths mapped here."""
    venv = ensure_venv(version)
    packages = workdir / "packages"
    packages.mkdir(parents=True, exist_ok=True)
    htpasswd = workdir / "auth" / ".htpasswd"
    htpasswd.parent.mkdir(parents=True, exist_ok=True)
    if htpasswd_text is not None:
        htpasswd.write_text(htpasswd_text)
        htpasswd.chmod(0o600)
    # --server gunicorn reads ./gunicorn.conf.py, as in the image's WORKDIR /data (the release's own file).
    shutil.copy(
        pypiserver_release.docker_file(version.lstrip("v"), "docker/gunicorn.conf.py"), workdir / "gunicorn.conf.py"
    )
    hooks = workdir / "hooks"
    environment = dict(os.environ)
    for variable in env:
        key, value = variable.split("=", 1)
        if server_args.HOOKS_DIR in value:
            assert programs is not None, f"{variable} names a delivered program: pass the archive"
            value = value.replace(server_args.HOOKS_DIR, str(hooks))
            config = Path(value.split("--config ", 1)[1].split()[0])
            unpack_programs(programs, config.parent)
            local = config.read_text().replace(f'"{server_args.PACKAGES_DIR}"', repr(str(packages)))
            config.write_text(local)
        environment[key] = value
    log = workdir / "pypiserver.log"
    command = [str(venv / "bin" / "pypi-server"), *localize(args, packages, htpasswd, port)]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, cwd=workdir, stdout=sink, stderr=subprocess.STDOUT, env=environment)
    url = f"http://127.0.0.1:{port}"
    index = RunningIndex(url, port, packages, htpasswd, process, log, command, workdir, environment)
    try:
        try:
            wait_healthy(url, timeout=30)
        except TimeoutError:
            raise AssertionError(f"pypiserver did not start: {command}\n{log.read_text()[-2000:]}") from None
        yield index
    finally:
        index.stop()


@contextmanager
def running_deployed_index(deployment: Deployment, workdir: Path, port: int) -> Iterator[RunningIndex]:
    """pypiserver exactly as `deployment` declares its container: arguments, environment, htpasswd
    and the gunicorn configuration (the upload guard and audit), at the version its image pins."""
    container = deployment.named("pypi-container").plain
    with running_index(
        container["command"],
        reveal(deployment.named("pypi-htpasswd").inputs["stdin"]),
        workdir,
        deployment.named("pypi-image").plain["name"].split(":")[1],
        port,
        env=container.get("envs") or [],
        programs=reveal(deployment.named("pypi-gunicorn-config").inputs["stdin"]),
    ) as index:
        yield index


def unpack_programs(archive: str, folder: Path) -> None:
    """The files the deployment delivers (a base64 tar archive) into `folder`, as the host unpacks them."""
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(base64.decodebytes(archive.encode("ascii")))) as tar:
        for member in tar.getmembers():
            assert member.isfile() and "/" not in member.name, f"a delivered program is one plain file: {member.name}"
            data = tar.extractfile(member)
            assert data is not None
            (folder / member.name).write_bytes(data.read())
