"""Running external commands (docker, ssh, mmdebstrap, pip) with errors that say what went wrong.

``subprocess.CalledProcessError`` prints only the exit code; when a boot or a build fails in CI the
useful part is stderr, so ``CommandError`` puts the tail of stdout/stderr into its message.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from typing import IO

Stdin = str | bytes | IO[bytes] | None

_TAIL = 4000  # characters of output kept in an error message


# Timings and figures worth seeing in CI's output even when every test passes: tests/conftest.py
# prints them in pytest's terminal summary (pytest captures what passing tests print).
FIGURES: list[str] = []


def log(message: str) -> None:
    """Progress lines; stderr so they show with ``pytest -s`` and in captured-output reports."""
    print(f"[pypi-test] {message}", file=sys.stderr, flush=True)


def figure(message: str) -> None:
    """A measured figure (a build or boot time, a downtime): logged, and repeated in the summary."""
    log(message)
    FIGURES.append(message)


class CommandError(subprocess.CalledProcessError):
    """A command exited non-zero; ``str()`` includes the command and the end of its output."""

    def __str__(self) -> str:
        cmd = self.cmd if isinstance(self.cmd, str) else shlex.join(map(str, self.cmd))
        parts = [f"command failed with exit code {self.returncode}: {cmd}"]
        for label, text in (("stdout", self.stdout), ("stderr", self.stderr)):
            if text:
                parts.append(f"--- {label} (tail) ---\n{str(text)[-_TAIL:]}")
        return "\n".join(parts)


def run(
    cmd: Sequence[str],
    *,
    stdin: Stdin = None,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    capture: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` (no shell) and return text output (undecodable bytes replaced).

    ``stdin`` may be text, bytes or an open binary file (e.g. an image tar streamed to ``docker load``).
    """
    kwargs: dict = {}
    if stdin is None:
        kwargs["stdin"] = subprocess.DEVNULL
    elif isinstance(stdin, str):
        kwargs["input"] = stdin.encode()
    elif isinstance(stdin, bytes):
        kwargs["input"] = stdin
    else:
        kwargs["stdin"] = stdin
    if capture:
        kwargs["stdout"] = kwargs["stderr"] = subprocess.PIPE
    env = dict(env) if env is not None else None
    proc = subprocess.run(list(cmd), env=env, timeout=timeout, **kwargs)
    out = proc.stdout.decode(errors="replace") if proc.stdout is not None else ""
    err = proc.stderr.decode(errors="replace") if proc.stderr is not None else ""
    result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    if check and proc.returncode != 0:
        raise CommandError(proc.returncode, proc.args, out, err)
    return result


def docker(*args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    """The outer (this machine's) Docker engine."""
    return run(["docker", *args], **kwargs)


class DockerUnavailable(RuntimeError):
    """No Docker engine answers. Deliberately an error, not a skip: these tests must not pass silently."""


def require_docker_engine() -> str:
    """Return the engine's version, or raise ``DockerUnavailable`` saying exactly why not."""
    if shutil.which("docker") is None:
        raise DockerUnavailable("the `docker` CLI is not on PATH; install it (Debian: `apt-get install -y docker.io`)")
    try:
        proc = run(["docker", "version", "--format", "{{.Server.Version}}"], check=False, timeout=30)
    except subprocess.TimeoutExpired:
        raise DockerUnavailable("`docker version` did not answer within 30 s (engine hung?)") from None
    version = proc.stdout.strip()
    if proc.returncode != 0 or not version:
        raise DockerUnavailable(
            "no Docker engine answers: `docker version` failed "
            f"(exit {proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}\n"
            "Start one, e.g. `dockerd > /tmp/dockerd.log 2>&1 &` on a machine without systemd, "
            "or `systemctl start docker`."
        )
    return version


def wait_until(what: str, probe, timeout: float, interval: float = 1.0):
    """Call ``probe()`` until it returns something truthy; raise ``TimeoutError`` naming ``what``.

    ``probe`` may raise; the last exception is chained so a timeout shows the real cause.
    """
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while True:
        try:
            value = probe()
            if value:
                return value
        except Exception as exc:
            last_exc = exc
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}") from last_exc
        time.sleep(interval)
