"""Every shell script the program sends to a host, as pure functions of their inputs.

Each script is POSIX sh, checked by shellcheck in the tests. None contains a secret: secret data
(the htpasswd file) reaches a script on stdin only. `as_command()` turns a script into the one-line
command string that pulumi-command runs (through the login shell remotely, /bin/sh -c locally).
"""

from __future__ import annotations

import shlex

from .server_args import AUTH_DIR, HEALTH_PATH
from .systemd_unit import UNIT_NAME, UNIT_PATH

HTPASSWD_NAME = ".htpasswd"
# The uid/gid the official image runs pypiserver as (its entrypoint drops to it).
PYPISERVER_UID = 9898


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


def write_htpasswd(auth_volume: str, image: str) -> str:
    """Write stdin into the auth volume as the htpasswd file, atomically, readable by pypiserver only.

    It runs in a throw-away container of the index's own image (no other image to pull), as root so
    it can hand the file to uid 9898. The rename makes pypiserver see a complete file with a new
    mtime, which it re-reads on the next request: users change without a restart.
    """
    target = f"{AUTH_DIR}/{HTPASSWD_NAME}"
    inner = (
        "set -eu; umask 077; "
        f"cat > {target}.new; "
        f"chown {PYPISERVER_UID}:{PYPISERVER_UID} {target}.new; "
        f"mv -f {target}.new {target}"
    )
    return f"""\
set -eu
docker run --rm -i --network none --user 0:0 --entrypoint /bin/sh \\
  --mount type=volume,source={shlex.quote(auth_volume)},target={AUTH_DIR} \\
  {shlex.quote(image)} -c {shlex.quote(inner)}
"""


def install_unit(unit_text: str) -> str:
    """Install the unit, enable it and start it; never restart a running index.

    A changed unit is reloaded and takes effect at the next restart of the service: restarting here
    would stop the container and cost downtime for a change that does not need it.
    """
    return f"""\
set -eu
unit={UNIT_PATH}
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
cat > "$tmp" <<'UNIT'
{unit_text}UNIT
if ! sudo -n cmp -s "$tmp" "$unit"; then
  sudo -n install -m 0644 -o root -g root "$tmp" "$unit"
  sudo -n systemctl daemon-reload
fi
sudo -n systemctl enable {UNIT_NAME}
sudo -n systemctl start {UNIT_NAME}
sudo -n systemctl is-active --quiet {UNIT_NAME}
echo "{UNIT_NAME} enabled and active"
"""


def remove_unit() -> str:
    """Stop, disable and remove the unit (on destroy, or when the unit resource is replaced)."""
    return f"""\
set -eu
if [ -e {UNIT_PATH} ]; then
  sudo -n systemctl disable --now {UNIT_NAME} || true
  sudo -n rm -f {UNIT_PATH}
  sudo -n systemctl daemon-reload
fi
sudo -n systemctl reset-failed {UNIT_NAME} 2>/dev/null || true
echo "{UNIT_NAME} removed"
"""


def health_gate(url_base: str, container: str, timeout_seconds: int) -> str:
    """Fail the deploy unless the index answers healthy on its published port in time.

    On failure it prints the container's state and last log lines, so the error `pulumi up` shows
    says why, not only that.
    """
    url = shlex.quote(f"{url_base}{HEALTH_PATH}")
    name = shlex.quote(container)
    return f"""\
set -eu
deadline=$(( $(date +%s) + {timeout_seconds} ))
while :; do
  if curl -fsS -o /dev/null --max-time 3 {url}; then
    echo "healthy: {url_base}{HEALTH_PATH}"
    exit 0
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "pypiserver did not answer {url_base}{HEALTH_PATH} within {timeout_seconds} s" >&2
    docker inspect --format 'container {{{{.Name}}}}: {{{{.State.Status}}}}, exit code {{{{.State.ExitCode}}}}, restarts {{{{.RestartCount}}}}' {name} >&2 || true
    echo "last log lines:" >&2
    docker logs --tail 30 {name} >&2 || true
    exit 1
  fi
  sleep 1
done
"""
