"""Memory and CPU of containers from their cgroups, read on this machine: cgroup v1 or v2.

                  cgroup v1 (one hierarchy per controller)      cgroup v2 (unified)
  peak memory     memory.max_usage_in_bytes                     memory.peak (Linux 5.19 and newer)
  peak RSS        memory.stat total_rss                         memory.stat anon
  CPU             cpuacct.usage (ns)                            cpu.stat usage_usec (us)

- peak memory: the kernel's own high-water mark of the memory charged to the container since it
  started (rss + page cache); what the brief asks for, summed per configuration;
- peak RSS: sampled every ``interval`` s by a thread (the page cache a server touches while reading
  packages is reclaimable; anonymous memory is what it cannot give back). v1's total_rss and v2's anon
  both count the anonymous pages of the container's whole subtree;
- CPU: read around each load phase for CPU time per request.

A machine is v2 when the unified hierarchy is mounted at /sys/fs/cgroup itself (cgroup.controllers
there); a hybrid machine (v2 only at /sys/fs/cgroup/unified, without controllers) keeps Docker on v1.
The container's folder is ``docker/<full id>`` with Docker's cgroupfs driver and
``system.slice/docker-<id>.scope`` with the systemd driver, under the controller's hierarchy on v1
(``/sys/fs/cgroup/memory/docker/<id>``) and under the root on v2 (``/sys/fs/cgroup/docker/<id>``).
Both are tried, and ``docker exec cat`` of the container's own view is the last resort (its own cgroup
is at /sys/fs/cgroup on v2, where Docker gives containers a cgroup namespace of their own).
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterable
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")


def is_v2(root: Path = CGROUP) -> bool:
    return (root / "cgroup.controllers").is_file()


def _folder(root: Path, controller: str, container_id: str) -> Path | None:
    base = root if is_v2(root) else root / controller
    for candidate in (base / "docker" / container_id, base / "system.slice" / f"docker-{container_id}.scope"):
        if candidate.is_dir():
            return candidate
    return None


def _read(controller: str, container_id: str, name: str, root: Path) -> str:
    """The file `name` of the container's cgroup; `controller` is its v1 hierarchy."""
    folder = _folder(root, controller, container_id)
    if folder is not None:
        return (folder / name).read_text()
    inside = f"/sys/fs/cgroup/{name}" if is_v2(root) else f"/sys/fs/cgroup/{controller}/{name}"
    proc = subprocess.run(["docker", "exec", container_id, "cat", inside], capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise RuntimeError(f"cannot read {inside} of {container_id[:12]}: {proc.stderr.strip()}")
    return proc.stdout


def _field(text: str, key: str) -> int | None:
    """`key`'s value in a flat keyed file (memory.stat, cpu.stat: one `key value` per line)."""
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            return int(value)
    return None


def peak_memory_bytes(container_id: str, root: Path = CGROUP) -> int:
    name = "memory.peak" if is_v2(root) else "memory.max_usage_in_bytes"
    return int(_read("memory", container_id, name, root))


def rss_bytes(container_id: str, root: Path = CGROUP) -> int:
    key = "anon" if is_v2(root) else "total_rss"
    return _field(_read("memory", container_id, "memory.stat", root), key) or 0


def cpu_ns(container_ids: Iterable[str], root: Path = CGROUP) -> int:
    return sum(cpu_ns_each(container_ids, root).values())


def cpu_ns_each(container_ids: Iterable[str], root: Path = CGROUP) -> dict[str, int]:
    return {cid: _cpu_ns(cid, root) for cid in container_ids}


def _cpu_ns(container_id: str, root: Path) -> int:
    if not is_v2(root):
        return int(_read("cpuacct", container_id, "cpuacct.usage", root))
    usec = _field(_read("cpu", container_id, "cpu.stat", root), "usage_usec")
    if usec is None:
        raise RuntimeError(f"cpu.stat of {container_id[:12]} has no usage_usec")
    return usec * 1000


class RssSampler:
    """Peak of the summed RSS of each group of containers, sampled in the background."""

    def __init__(self, groups: dict[str, list[str]], interval: float = 0.5, root: Path = CGROUP):
        self.groups = groups
        self.interval = interval
        self.root = root
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
                total = sum(rss_bytes(cid, self.root) for cid in ids)
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
