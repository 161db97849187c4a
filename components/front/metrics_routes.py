"""The metrics a Prometheus scrapes, behind the metrics credentials only (`metricsUsers`): no reader
or uploader may scrape, and a metrics user may do nothing else (the other routes leave them out).
- `/metrics`: Caddy's own series (modules/metrics/metrics.go, v2.11: the process-wide registry, so
  Go's and the process's series too), with its HTTP instrumentation turned on by the global `metrics`
  option. Caddy counts each request once, under the top-level route that took it
  (modules/caddyhttp/routes.go, wrapRoute since #7492): a Caddyfile site is one such route, so every
  request carries `handler="subroute"`, and it is `code` and `method` on the duration histogram
  (`caddy_http_request_duration_seconds`; `caddy_http_requests_total` has neither) that tell uploads
  (POST) and their refusals (401, 403, 409, 413, 507, ...) from reads.
- `/metrics/index`: the indexer's series (in_container/index_metrics.py), a file it keeps in the
  pages volume, served as it is.
Prometheus scrapes the two as two targets of one job (client_config.scrape_job).
"""

from __future__ import annotations

from collections.abc import Mapping

from ..in_container.exposition import CONTENT_TYPE
from ..in_container.index_metrics import METRICS_DIR, METRICS_FILE
from ..store.mounts import INDEX_DIR

CADDY_PATH = "/metrics"
INDEX_PATH = "/metrics/index"
PATHS = (CADDY_PATH, INDEX_PATH)


def global_option(scrapers: Mapping[str, str]) -> list[str]:
    """Caddy's HTTP metrics cost a little on every request, so they are on only when someone scrapes."""
    return ["\tmetrics"] if scrapers else []


def _auth(scrapers: Mapping[str, str]) -> list[str]:
    return ["\t\tbasic_auth {", *(f"\t\t\t{name} {scrapers[name]}" for name in sorted(scrapers)), "\t\t}"]


def metrics_routes(scrapers: Mapping[str, str]) -> list[str]:
    """`scrapers`: the metrics users' bcrypt hashes. `path` matches loosely (any case, cleaned), which
    only widens what asks for the metrics credentials. Without metrics users, there are no routes."""
    if not scrapers:
        return []
    return [
        f"\t@caddy_metrics path {CADDY_PATH}",
        "\thandle @caddy_metrics {",
        *_auth(scrapers),
        "\t\tmetrics",
        "\t}",
        f"\t@index_metrics path {INDEX_PATH}",
        "\thandle @index_metrics {",
        *_auth(scrapers),
        f"\t\troot * {INDEX_DIR}",
        f"\t\trewrite * /{METRICS_DIR}/{METRICS_FILE}",
        f'\t\theader Content-Type "{CONTENT_TYPE}"',
        "\t\tfile_server",
        "\t}",
        "",
    ]
