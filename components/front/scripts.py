"""What the program runs against the front server's container: a graceful reload, reading a file."""

from __future__ import annotations

import shlex


def reload_front(container: str, caddyfile: str) -> str:
    """Graceful reload of a running front server (no dropped connections); nothing if it is not up yet."""
    name = shlex.quote(container)
    return f"""\
if [ "$(docker inspect --format '{{{{.State.Running}}}}' {name} 2>/dev/null)" = true ]; then
  docker exec {name} caddy reload --config {caddyfile} --adapter caddyfile
fi
"""


def read_file_in(container: str, path: str) -> str:
    """Print a file from a running container (e.g. the front server's public CA certificate)."""
    return f"docker exec {shlex.quote(container)} cat {shlex.quote(path)}\n"
