"""The metrics, for real: the real front server (Caddy) and indexer with the Caddyfile the program
renders for a stack with a metrics user, scraped by a real Prometheus (Debian's package) on loopback
with the stack's own `scrapeJob` output, the shipped alert rules loaded. Who may scrape (only the
metrics user), what the metrics user may not do (anything else), and what Prometheus then holds."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.host.machine import free_port
from tests.support.deployments import PASSWORDS, config_for
from tests.support.index_client import http_get, make_wheel, upload
from tests.support.metrics_tally import METRICS
from tests.support.real_front import running_front
from tests.support.real_prometheus import api, eventually, query, running_prometheus, targets_up
from tests.support.real_pypiserver import running_deployed_index
from tests.support.recorded import reveal, run_program

SCRAPER, SCRAPER_PASSWORD = "prom", "prom-password-5c3e1a9b7d"
UPLOADER, READER = "ci", "alice"
USERS = {**PASSWORDS, SCRAPER: SCRAPER_PASSWORD}


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    https_port, backend_port = free_port(), free_port()
    config = config_for("staging", domain="127.0.0.1", httpsPort=str(https_port), users=USERS)
    deployment = run_program("staging", {**config, "uploaders": [UPLOADER], "metricsUsers": [SCRAPER]})
    caddy_text = reveal(deployment.named("pypi-caddyfile").inputs["stdin"])
    workdir = tmp_path_factory.mktemp("metrics")
    with (
        running_deployed_index(deployment, workdir / "backend", backend_port) as backend,
        running_front(caddy_text, workdir / "front", backend.packages, backend_port, https_port) as front,
    ):
        wheel = make_wheel(tmp_path_factory.mktemp("dist"), "team-tool", "1.0.0")
        reply = upload(deployment.exports["uploadUrl"], wheel, UPLOADER, PASSWORDS[UPLOADER], ca=front.ca)
        assert reply.status == 200, reply.body
        yield front, deployment.exports


def _get(index, path: str, user: str | None = None):
    front, _ = index
    password = USERS.get(user or "")
    return http_get(f"{front.url}{path}", user, password, ca=front.ca)


@pytest.mark.parametrize("path", ["/metrics", "/metrics/index"])
def test_only_the_metrics_user_may_scrape(index, path):
    assert _get(index, path).status == 401, "anonymous"
    assert _get(index, path, READER).status == 401
    assert _get(index, path, UPLOADER).status == 401
    reply = _get(index, path, SCRAPER)
    assert reply.status == 200, reply.body[:300]
    assert reply.headers["Content-Type"].startswith("text/plain"), reply.headers


def test_the_metrics_user_may_do_nothing_else(index, tmp_path):
    front, exports = index
    for path in ("/simple/", "/simple/team-tool/", "/packages/team_tool-1.0.0-py3-none-any.whl", "/"):
        assert _get(index, path, SCRAPER).status == 401, path
        assert _get(index, path, READER).status == 200 or path == "/", path
    wheel = make_wheel(tmp_path, "scraped", "1.0.0")
    assert upload(exports["uploadUrl"], wheel, SCRAPER, SCRAPER_PASSWORD, ca=front.ca).status == 401


def test_caddy_counts_requests_by_code_and_method(index):
    _get(index, "/simple/team-tool/", READER)
    _get(index, "/simple/", SCRAPER)  # a 401
    text = _get(index, "/metrics", SCRAPER).body.decode()
    counts = [line for line in text.splitlines() if line.startswith("caddy_http_request_duration_seconds_count{")]
    assert any('code="200"' in line and 'method="GET"' in line for line in counts), counts
    assert any('code="401"' in line for line in counts), counts
    assert any('code="200"' in line and 'method="POST"' in line for line in counts), "the upload"


def test_the_indexer_reports_the_store(index):
    text = _get(index, "/metrics/index", SCRAPER).body.decode()
    values = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert values["pypi_index_store_files"] == "1"
    assert int(values["pypi_index_store_bytes"]) > 0
    assert int(values["pypi_index_store_free_bytes"]) > 0 and values["pypi_index_uploads_paused"] == "0"
    assert abs(float(values["pypi_index_indexer_heartbeat_timestamp_seconds"]) - time.time()) < 30
    assert 0 <= float(values["pypi_index_indexer_lag_seconds"]) < 5, "an upload listed within seconds"


# --- a real Prometheus with the shipped scrape job and alert rules


@pytest.fixture(scope="module")
def prometheus(index, tmp_path_factory) -> Iterator[str]:
    front, exports = index
    with running_prometheus(exports["scrapeJob"], front.ca, SCRAPER_PASSWORD, tmp_path_factory.mktemp("prom")) as url:
        yield url


def test_prometheus_scrapes_both_targets_with_the_shipped_job(prometheus):
    targets = eventually(lambda: targets_up(prometheus, 2))
    assert targets, api(prometheus, "targets")
    assert {t["labels"]["source"] for t in targets} == {"caddy", "index"}
    assert {t["labels"]["job"] for t in targets} == {"pypi-index"}
    series = query(prometheus, 'count({job="pypi-index"})')
    if METRICS.series_scraped is None:  # the deployed host's count, when the end-to-end test ran, comes first
        METRICS.series_scraped = int(series[0]["value"][1])
    store = query(prometheus, "pypi_index_store_files")
    assert [s["value"][1] for s in store] == ["1"]


def test_the_shipped_rules_evaluate_on_the_real_series(prometheus):
    def evaluated():
        groups = api(prometheus, "rules")["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        return rules if rules and all(rule.get("lastEvaluation", "").startswith("2") for rule in rules) else None

    rules = eventually(evaluated)
    assert rules, api(prometheus, "rules")
    assert all(rule["health"] == "ok" for rule in rules), [(r["name"], r.get("lastError")) for r in rules]
    firing = [rule["name"] for rule in rules if rule["state"] != "inactive"]
    # A healthy index with no backups to report: only the backup rules lack series (they read none).
    assert firing == [], firing
