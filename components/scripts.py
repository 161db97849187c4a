"""Every shell script the program sends to a host, as pure functions of their inputs.

Each script is POSIX sh, checked by shellcheck in the tests. None contains a secret: secret data
(the htpasswd file) reaches a script on stdin only. `as_command()` turns a script into the one-line
command string that pulumi-command runs (through the login shell remotely, /bin/sh -c locally).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from .server_args import HEALTH_PATH
from .systemd_unit import unit_name, unit_path


def as_command(script: str) -> str:
    return f"sh -c {shlex.quote(script)}"


def docker_bootstrap() -> str:
    """Make sure a fresh Ubuntu/Debian host runs a Docker engine the SSH user may use.

    Idempotent: installs only what is missing. The group change matters for the Docker provider,
    whose `docker system dial-stdio` runs as the SSH user in a new session after this one.
    """
    return """\
set -eu
missing=""
command -v docker >/dev/null 2>&1 || missing="$missing docker.io"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
if [ -n "$missing" ]; then
  sudo -n env DEBIAN_FRONTEND=noninteractive apt-get update -q
  # shellcheck disable=SC2086 # one word per package
  sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing
fi
sudo -n systemctl enable --now docker.service
me=$(id -un)
if [ "$me" != root ] && ! id -nG "$me" | tr ' ' '\\n' | grep -qx docker; then
  sudo -n usermod -aG docker "$me"
fi
tries=0
until sudo -n docker info >/dev/null 2>&1; do
  tries=$((tries + 1))
  if [ "$tries" -ge 60 ]; then
    echo "the Docker engine on $(hostname) did not answer within 60 s" >&2
    sudo -n systemctl status --no-pager docker.service >&2 || true
    exit 1
  fi
  sleep 1
done
echo "docker $(sudo -n docker version --format '{{.Server.Version}}') ready on $(hostname)"
"""


def write_volume_file(volume: str, mount: str, relative: str, image: str, owner: int, then: str = "") -> str:
    """Write stdin into `volume` (mounted at `mount`) as `relative`, atomically, mode 0600, owned by `owner`.

    It runs in a throw-away container of an image the deployment already has (nothing else to pull),
    as root so it can hand the file to the service's uid. The rename makes the service see a complete
    file with a new mtime: pypiserver re-reads its htpasswd on the next request. `then` runs after
    the file is in place (e.g. a reload).
    """
    target = shlex.quote(f"{mount}/{relative}")
    inner = (
        "set -eu; umask 077; "
        f'mkdir -p "$(dirname {target})"; '
        f"cat > {target}.new; "
        f"chown {owner}:{owner} {target}.new; "
        f"mv -f {target}.new {target}"
    )
    return (
        "set -eu\n"
        "docker run --rm -i --network none --user 0:0 --entrypoint /bin/sh \\\n"
        f"  --mount type=volume,source={shlex.quote(volume)},target={shlex.quote(mount)} \\\n"
        f"  {shlex.quote(image)} -c {shlex.quote(inner)}\n"
    ) + then


def reload_front(container: str, caddyfile: str) -> str:
    """Graceful reload of a running front server (no dropped connections); nothing if it is not up yet."""
    name = shlex.quote(container)
    return f"""\
if [ "$(docker inspect --format '{{{{.State.Running}}}}' {name} 2>/dev/null)" = true ]; then
  docker exec {name} caddy reload --config {caddyfile} --adapter caddyfile
fi
"""


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


def health_gate(domain: str, port: int, address: str, containers: list[str], timeout_seconds: int) -> str:
    """Fail the deploy unless the index answers healthy through the front server's port in time.

    It connects to `address` (the host's own side of the published port) under the certificate's
    name, so TLS and routing are exercised as clients see them; `-k` because it checks that the index
    answers, not who signed its certificate (an ACME certificate may take longer than the first try).
    On failure it prints every container's state and last log lines, so the error says why.
    """
    host = f"[{domain}]" if ":" in domain else domain
    url = f"https://{host}:{port}{HEALTH_PATH}"
    resolve = shlex.quote(f"{host}:{port}:{address}")
    diagnose = "\n".join(
        f"    docker inspect --format '{{{{.Name}}}}: {{{{.State.Status}}}}, exit code {{{{.State.ExitCode}}}}' {shlex.quote(c)} >&2 || true\n"
        f"    docker logs --tail 20 {shlex.quote(c)} >&2 || true"
        for c in containers
    )
    return f"""\
set -eu
deadline=$(( $(date +%s) + {timeout_seconds} ))
while :; do
  if curl -fsS -k -o /dev/null --max-time 3 --resolve {resolve} {shlex.quote(url)}; then
    echo "healthy: {url}"
    exit 0
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "the index did not answer {url} (via {address}) within {timeout_seconds} s" >&2
{diagnose}
    exit 1
  fi
  sleep 1
done
"""


def read_file_in(container: str, path: str) -> str:
    """Print a file from a running container (e.g. the front server's public CA certificate)."""
    return f"docker exec {shlex.quote(container)} cat {shlex.quote(path)}\n"
