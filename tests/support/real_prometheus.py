"""A real Prometheus (Debian's package) on loopback, configured with a stack's own `scrapeJob` output
(only the paths of its CA and password files changed to where the test keeps them) and the shipped
alert rules; and its HTTP API (https://prometheus.io/docs/prometheus/latest/querying/api/)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from tests.host.machine import free_port
from tests.support.recorded import ROOT

RULES = ROOT / "monitoring" / "alerts.yml"


def prometheus_config(job_text: str, ca: Path | None, password_file: Path, interval: str = "1s") -> str:
    """prometheus.yml around the stack's job, as it is but for where its two files are here."""
    (job,) = yaml.safe_load(job_text)
    assert job["basic_auth"]["password_file"], job
    job["basic_auth"]["password_file"] = str(password_file)
    if ca is not None:
        assert job["tls_config"]["ca_file"], job
        job["tls_config"]["ca_file"] = str(ca)
    config = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(RULES)],
        "scrape_configs": [job],
    }
    return yaml.safe_dump(config, sort_keys=False)


@contextmanager
def running_prometheus(job_text: str, ca: Path | None, password: str, workdir: Path) -> Iterator[str]:
    """Prometheus scraping with the job; yields its base URL."""
    binary = shutil.which("prometheus")
    assert binary, "prometheus not found: install Debian's prometheus package (.ci/run does)"
    workdir.mkdir(parents=True, exist_ok=True)
    password_file = workdir / "password"
    password_file.write_text(password)
    password_file.chmod(0o600)
    config = workdir / "prometheus.yml"
    config.write_text(prometheus_config(job_text, ca, password_file))
    check = subprocess.run(["promtool", "check", "config", str(config)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    port = free_port()
    log = (workdir / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def api(base: str, path: str, **query: str) -> Any:
    url = f"{base}/api/v1/{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
    with urllib.request.urlopen(url, timeout=10) as reply:
        answer = json.load(reply)
    assert answer["status"] == "success", answer
    return answer["data"]


def query(base: str, expression: str) -> list[dict]:
    return api(base, "query", query=expression)["result"]


def eventually(check: Callable[[], Any], timeout: float = 60, interval: float = 0.5) -> Any:
    """`check()`'s first truthy answer within `timeout` seconds (None if none); a refused connection
    (Prometheus still starting) counts as no answer."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except OSError:
            result = None
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


def alert_expressions() -> dict[str, str]:
    """Each shipped alert's expression, by name."""
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["alert"]: rule["expr"] for group in groups for rule in group["rules"]}


def targets_up(base: str, count: int) -> list[dict] | None:
    targets = api(base, "targets")["activeTargets"]
    return targets if len(targets) == count and all(t["health"] == "up" for t in targets) else None
