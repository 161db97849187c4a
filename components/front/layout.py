"""Where things are inside the front server's container, as the official Caddy image lays it out
(caddyserver/caddy-docker 2.11/alpine/Dockerfile: `ENV XDG_DATA_HOME=/data`, so Caddy keeps its
certificates and CA under /data/caddy; `CMD caddy run --config /etc/caddy/Caddyfile`; the reading is
cited line by line in tests/host/files/caddy/Dockerfile). The program mounts its volumes at these paths."""

from __future__ import annotations

CONFIG_DIR = "/etc/caddy"
CADDYFILE = f"{CONFIG_DIR}/Caddyfile"
CERT_FILE = f"{CONFIG_DIR}/tls/cert.pem"
KEY_FILE = f"{CONFIG_DIR}/tls/key.pem"
DATA_DIR = "/data"  # certificates, the internal CA and ACME accounts: a volume, kept across replacements
CA_CERT = f"{DATA_DIR}/caddy/pki/authorities/local/root.crt"
INNER_HTTP, INNER_HTTPS = 80, 443
