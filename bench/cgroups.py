"""Memory and CPU of containers from their cgroups (v1, Docker's cgroupfs driver), read on this machine.

- peak memory: ``memory.max_usage_in_bytes`` (the kernel's own high-water mark of rss + page cache
  charged to the container since it started); what the brief asks for, summed per configuration;
- peak RSS: ``total_rss`` of ``memory.stat``, sampled every ``interval`` s by a thread (the page cache a
  server touches while reading packages is reclaimable; RSS is what it cannot give back);
- CPU: ``cpuacct.usage`` (ns), read around each load phase for CPU time per request.

The container's cgroup folder is ``/sys/fs/cgroup/<controller>/docker/<full id>`` with the cgroupfs
driver; with the systemd driver it is ``.../system.slice/docker-<id>.scope``. Both are tried, and
``docker exec cat /sys/fs/cgroup/...`` (the container's own view) is the last resort.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterable
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")


def _folder(controller: str, container_id: str) -> Path | None:
    for candidate in (
        CGROUP / controller / "docker" / container_id,
        CGROUP / controller / "system.slice" / f"docker-{container_id}.scope",
    ):
        if candidate.is_dir():
            return candidate
    return None


def _read(controller: str, container_id: str, name: str) -> str:
    folder = _folder(controller, container_id)
    if folder is not None:
        return (folder / name).read_text()
    proc = subprocess.run(
        ["docker", "exec", container_id, "cat", f"/sys/fs/cgroup/{controller}/{name}"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"cannot read {controller}/{name} of {container_id[:12]}: {proc.stderr.strip()}")
    return proc.stdout


def max_usage_bytes(container_id: str) -> int:
    return int(_read("memory", container_id, "memory.max_usage_in_bytes"))


def rss_bytes(container_id: str) -> int:
    for line in _read("memory", container_id, "memory.stat").splitlines():
        key, _, value = line.partition(" ")
        if key == "total_rss":
            return int(value)
    return 0


def cpu_ns(container_ids: Iterable[str]) -> int:
    return sum(cpu_ns_each(container_ids).values())


def cpu_ns_each(container_ids: Iterable[str]) -> dict[str, int]:
    return {cid: int(_read("cpuacct", cid, "cpuacct.usage")) for cid in container_ids}


class RssSampler:
    """Peak of the summed RSS of each group of containers, sampled in the background."""

    def __init__(self, groups: dict[str, list[str]], interval: float = 0.5):
        self.groups = groups
        self.interval = interval
        self.peak: dict[str, int] = {name: 0 for name in groups}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        for name, ids in self.groups.items():
            try:
                total = sum(rss_bytes(cid) for cid in ids)
            except (OSError, RuntimeError, ValueError):
                continue  # a container being removed; the next sample will do
            self.peak[name] = max(self.peak[name], total)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sample()
