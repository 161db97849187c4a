"""What an operator copies into Prometheus (the `scrapeJob` output): a ready scrape job for the
index, under `scrape_configs:` in prometheus.yml. Like the client snippets (client_config.py), it holds
no password: the metrics user's password goes in the file `password_file` names.

One job, two targets on the same address: Caddy's own series at /metrics and the indexer's at
/metrics/index (front/metrics_routes.py). Each target's `__metrics_path__` label sets its path; the
`source` label keeps their series (`up` among them) apart, since both have the same job and instance.
The job's name is the one the alert rules select on (monitoring/alerts.yml: job="pypi-index").
"""

from __future__ import annotations

from urllib.parse import urlsplit

from .front.metrics_routes import CADDY_PATH, INDEX_PATH

JOB_NAME = "pypi-index"
# Where the job expects Prometheus's copies of the stack's caCertificate and the metrics password.
CA_FILE = "/etc/prometheus/pypi-index-ca.pem"
PASSWORD_FILE = "/etc/prometheus/pypi-index-metrics.password"  # noqa: S105 (a path, not a password)
SOURCES = (("caddy", CADDY_PATH), ("index", INDEX_PATH))


def _address(public_url: str) -> str:
    parts = urlsplit(public_url)
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    return f"{host}:{parts.port or 443}"


def render_scrape_job(public_url: str, private_ca: bool, metrics_user: str | None) -> str:
    """The job as YAML, one list item for `scrape_configs:`; without a metrics user, a note saying how
    to get one (nothing can scrape the index then)."""
    if metrics_user is None:
        return "# No metricsUsers in this stack: set one (see README, Monitoring) to scrape the index.\n"
    lines = [
        "# Prometheus: add under scrape_configs: in prometheus.yml. Put the password of metrics user",
        f"# {metrics_user!r} in {PASSWORD_FILE} (readable by Prometheus only)"
        + (f", and the stack's caCertificate output in {CA_FILE}." if private_ca else "."),
        f"- job_name: {JOB_NAME}",
        "  scheme: https",
    ]
    if private_ca:
        lines += ["  tls_config:", f"    ca_file: {CA_FILE}"]
    lines += ["  basic_auth:", f"    username: {metrics_user}", f"    password_file: {PASSWORD_FILE}"]
    lines.append("  static_configs:")
    for source, path in SOURCES:
        lines += [
            f'    - targets: ["{_address(public_url)}"]',
            "      labels:",
            f"        __metrics_path__: {path}",
            f"        source: {source}",
        ]
    return "\n".join(lines) + "\n"
