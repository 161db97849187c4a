"""What supervision sends to a host: the systemd units' install and removal, and the health gate.

POSIX sh, checked by shellcheck in the tests.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass

from ..pypiserver.args import HEALTH_PATH
from .systemd_unit import unit_name, unit_path


def install_units(units: Mapping[str, str]) -> str:
    """Install the units (container -> unit text), enable and start them; never restart a running one.

    A changed unit is reloaded and takes effect at the next restart of its service: restarting here
    would stop a container and cost downtime for a change that does not need it.
    """
    parts = ["set -eu", "tmp=$(mktemp)", "trap 'rm -f \"$tmp\"' EXIT", "reload=no"]
    for container, text in units.items():
        parts += [
            f"cat > \"$tmp\" <<'UNIT'\n{text}UNIT",
            f'if ! sudo -n cmp -s "$tmp" {unit_path(container)}; then',
            f'  sudo -n install -m 0644 -o root -g root "$tmp" {unit_path(container)}',
            "  reload=yes",
            "fi",
        ]
    names = " ".join(unit_name(c) for c in units)
    parts += [
        'if [ "$reload" = yes ]; then sudo -n systemctl daemon-reload; fi',
        f"sudo -n systemctl enable {names}",
        f"sudo -n systemctl start {names}",
        f"sudo -n systemctl is-active --quiet {names}",
        f'echo "{names}: enabled and active"',
    ]
    return "\n".join(parts) + "\n"


def remove_units(containers: list[str]) -> str:
    """Stop, disable and remove the units (on destroy)."""
    parts = ["set -eu"]
    for container in containers:
        parts += [
            f"if [ -e {unit_path(container)} ]; then",
            f"  sudo -n systemctl disable --now {unit_name(container)} || true",
            f"  sudo -n rm -f {unit_path(container)}",
            "fi",
            f"sudo -n systemctl reset-failed {unit_name(container)} 2>/dev/null || true",
        ]
    parts += ["sudo -n systemctl daemon-reload", 'echo "units removed"']
    return "\n".join(parts) + "\n"


@dataclass(frozen=True)
class IndexerReading:
    """Where the health gate finds the indexer's disk reading and who wrote it."""

    reader: str
    """A container that mounts the pages volume (the front server)."""
    report: str
    mark: str
    """Paths of the reading and of the writer's mark, inside `reader`."""
    container: str
    """The indexer container the deploy just created."""


def health_gate(
    domain: str,
    port: int,
    address: str,
    containers: list[str],
    timeout_seconds: int,
    indexer: IndexerReading,
) -> str:
    """Fail the deploy unless the index answers healthy through the front server's port in time.

    It connects to `address` (the host's own side of the published port) under the certificate's
    name, so TLS and routing are exercised as clients see them; `-k` because it checks that the index
    answers, not who signed its certificate (an ACME certificate may take longer than the first try).
    It also waits until the indexer it deployed has written its reading (a dead or crash-looping
    indexer leaves the pages stale while everything else answers), and prints the reading last. On failure it prints every container's state and last log lines, so the error says why.
    """
    host = f"[{domain}]" if ":" in domain else domain
    url = f"https://{host}:{port}{HEALTH_PATH}"
    resolve = shlex.quote(f"{host}:{port}:{address}")
    read_disk = shlex.join(["docker", "exec", indexer.reader, "cat", indexer.report])
    written_by = shlex.join(["docker", "exec", indexer.reader, "cat", indexer.mark])
    deployed = shlex.join(["docker", "inspect", "--format", "{{.Config.Hostname}}", indexer.container])
    disk_check = f' && [ "$({written_by} 2>/dev/null)" = "$({deployed} 2>/dev/null)" ] && {read_disk} >/dev/null 2>&1'
    diagnose = "\n".join(
        f"    docker inspect --format '{{{{.Name}}}}: {{{{.State.Status}}}}, exit code {{{{.State.ExitCode}}}}' {shlex.quote(c)} >&2 || true\n"
        f"    docker logs --tail 20 {shlex.quote(c)} >&2 || true"
        for c in containers
    )
    return f"""\
set -eu
deadline=$(( $(date +%s) + {timeout_seconds} ))
while :; do
  if curl -fsS -k -o /dev/null --max-time 3 --resolve {resolve} {shlex.quote(url)}{disk_check}; then
    echo "healthy: {url}"
    echo "disk: $({read_disk})"
    exit 0
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "the index did not answer {url} (via {address}), or its indexer wrote nothing, within {timeout_seconds} s" >&2
{diagnose}
    exit 1
  fi
  sleep 1
done
"""
