"""What the program runs against the front server's container: a reload, reading a file."""

from __future__ import annotations

import shlex


def reload_front(container: str, caddyfile: str) -> str:
    """Reload a running front server's configuration (no restart); nothing if it is not up yet.

    Not every request survives it. Caddy starts the new configuration before it stops the old one
    (caddy v2.11.7 caddy.go, unsyncedDecodeAndRun), on a second socket bound to the same port with
    SO_REUSEPORT (listen_unix.go, listenReusable), so for a moment the kernel hands new connections to
    either server; the old one is then shut down (modules/caddyhttp/app.go, App.Stop), and Go's server
    closes a connection it has accepted but not yet served without answering (net/http server.go,
    conn.serve: `if c.server.shuttingDown() { return }`), or the kernel resets one still queued. No
    handler ran, so such a request is safe to send again; pip does (its session retries with urllib3,
    pip/_internal/network/session.py). In a study of 200 reloads each, neither grace_period,
    shutdown_delay, the admin API's /load nor --force avoided it. tests/test_real_index.py shows the
    drops and that a request sent again is answered."""
    name = shlex.quote(container)
    return f"""\
if [ "$(docker inspect --format '{{{{.State.Running}}}}' {name} 2>/dev/null)" = true ]; then
  docker exec {name} caddy reload --config {caddyfile} --adapter caddyfile
fi
"""


def read_file_in(container: str, path: str) -> str:
    """Print a file from a running container (e.g. the front server's public CA certificate)."""
    return f"docker exec {shlex.quote(container)} cat {shlex.quote(path)}\n"
