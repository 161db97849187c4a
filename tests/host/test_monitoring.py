"""End to end on a real host: a real Prometheus (Debian's package, on loopback) scrapes a production
stack deployed on a test host through the real engine, with the stack's own `scrapeJob` output and
the shipped alert rules. Real faults are caused on the host, and each matching alert's expression
(read from monitoring/alerts.yml, evaluated through Prometheus's HTTP API) is shown true, then false
again after the repair. Prints `ALERT <name>: true <s> s after the fault, false <s> s after the repair`.

Not caused here: a full disk (the test host's store is this machine's disk), a failing backup, a
certificate near expiry and a restart loop, whose series the stack does not export yet."""

from __future__ import annotations

import time

from tests.support.metrics_tally import METRICS
from tests.support.real_prometheus import alert_expressions, eventually, query, running_prometheus, targets_up

from .commands import figure
from .conftest import BackupServer
from .deploys import SshAgent, new_site
from .images import Images
from .machine import TestHost

USERS = {"ci": "ci-password-7f3a9c1e5b", "prometheus": "prometheus-password-3b8d1f6a2c"}


def fault_and_repair(prometheus: str, host: TestHost, name: str, fault: str, repair: str, timeout: float) -> None:
    expression = alert_expressions()[name]
    assert query(prometheus, expression) == [], f"{name} true before the fault"
    started = time.monotonic()
    host.ssh(fault)
    fired = eventually(lambda: query(prometheus, expression), timeout, 1)
    assert fired, f"{name}: its expression never became true after `{fault}`"
    true_after = time.monotonic() - started
    started = time.monotonic()
    host.ssh(repair)
    cleared = eventually(lambda: query(prometheus, expression) == [], 120, 1)
    assert cleared, f"{name}: its expression stayed true after `{repair}`"
    figure(
        f"ALERT {name}: true {true_after:.0f} s after the fault, false {time.monotonic() - started:.0f} s after the repair"
    )


def test_alerts_become_true_on_real_faults_and_false_after_repair(
    host_images: Images, backup_server: BackupServer, tmp_path
):
    agent = SshAgent()
    try:
        with TestHost(host_images, suite="bookworm") as host:
            site = new_site(
                host, agent, tmp_path / "site", backup_server.config("monitoring"),
                users=dict(USERS), metricsUsers=["prometheus"],
            )  # fmt: skip
            outputs = site.deploy()
            with running_prometheus(outputs["scrapeJob"], site.ca, USERS["prometheus"], tmp_path / "prom") as prom:
                assert eventually(lambda: targets_up(prom, 2), 120), "both targets scraped with the shipped job"
                METRICS.series_scraped = int(query(prom, 'count({job="pypi-index"})')[0]["value"][1])
                assert query(prom, "pypi_index_store_free_bytes"), "the indexer's series, from the deployed host"
                fault_and_repair(
                    prom, host, "PypiIndexIndexerStalled",
                    "sudo -n systemctl stop pypiserver-indexer", "sudo -n systemctl start pypiserver-indexer", 300,
                )  # fmt: skip
                fault_and_repair(
                    prom, host, "PypiIndexDown",
                    "sudo -n systemctl stop pypiserver-front", "sudo -n systemctl start pypiserver-front", 120,
                )  # fmt: skip
    finally:
        agent.close()
