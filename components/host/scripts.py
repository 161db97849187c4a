"""What the program sends to a host before anything else: the guard that the host is this stack's,
the bootstrap (a supported Docker, sshd and apt ready), as pure functions of their inputs.

Each script is POSIX sh, checked by shellcheck in the tests. None contains a secret: secret data
reaches a script on stdin only. `as_command()` turns a script into the one-line command string that
pulumi-command runs (through the login shell remotely, /bin/sh -c locally).
"""

from __future__ import annotations

import shlex


def as_command(script: str) -> str:
    return f"sh -c {shlex.quote(script)}"


# The oldest engine the deployment supports: Docker 20.10 (API 1.41), what Debian 12 ships. Ubuntu
# 22.04 and 24.04 ship newer ones; the program asks nothing of the engine that 20.10 lacks.
MIN_ENGINE = (20, 10)
MIN_API = "1.41"
ENGINE_REPORT = "ENGINE docker"


# Fresh Ubuntu cloud images run unattended-upgrades right after boot; an apt-get meanwhile fails at
# once on apt's or dpkg's lock ("Could not get lock /var/lib/dpkg/lock-frontend. It is held by process
# ... (unattended-upgr)"). The bootstrap waits for the lock, this long at most.
APT_LOCK_WAIT_SECONDS = 900
# What apt-get says when another process holds one of its locks (apt-pkg/contrib/fileutl.cc GetLock,
# apt-pkg/deb/debsystem.cc Lock): then, and only then, it has changed nothing and may be run again.
APT_LOCK_ERRORS = ("Could not get lock", "Unable to lock", "Unable to acquire the dpkg frontend lock")


def apt_waiting_for_locks(bound_seconds: int = APT_LOCK_WAIT_SECONDS) -> str:
    """A POSIX sh function `apt ARGS...`: `apt-get ARGS` as root, non-interactive, run again every 5 s
    while another process holds apt's or dpkg's lock, for `bound_seconds` at most; then an error that
    names the lock and its holder and says what to do. Any other failure stops at once."""
    patterns = "|".join(f"*{shlex.quote(text)}*" for text in APT_LOCK_ERRORS)
    return rf"""apt() {{
  deadline=$(( $(date +%s) + {bound_seconds} ))
  while :; do
    status=0
    output=$(sudo -n env DEBIAN_FRONTEND=noninteractive apt-get "$@" 2>&1) || status=$?
    if [ "$status" -eq 0 ]; then
      printf '%s\n' "$output"
      return 0
    fi
    case "$output" in
      {patterns}) ;;
      *) printf '%s\n' "$output" >&2; return "$status" ;;
    esac
    if [ "$(date +%s)" -ge "$deadline" ]; then
      printf '%s\n' "$output" | grep -i lock >&2 || true
      echo "$(hostname): apt-get $1 waited {bound_seconds} s for another process to release apt's lock" \
        "(on a freshly booted Ubuntu host, unattended-upgrades); let it finish" \
        "(systemctl status unattended-upgrades) and deploy again" >&2
      return 1
    fi
    sleep 5
  done
}}
"""


# The host's sshd keeps its distribution's settings. The Docker provider dials `ssh ... docker system
# dial-stdio` once per resource operation (kreuzwerker's client cache keeps a client only after its first
# ping, internal/provider/config.go), as many at once as the engine runs operations (`--parallel`,
# 4 per CPU by default), and OpenSSH's default `MaxStartups 10:30:100` drops unauthenticated
# connections past 10 ("kex_exchange_identification: Connection closed by remote host"): measured with
# the real engine on a stock Debian 12 sshd, 1 first deploy in 3 failed so at --parallel 64 (a 16-core
# workstation). So the program's own entry points deploy with --parallel 8 (PARALLEL: Makefile,
# workflows), and the README tells users of a plain `pulumi up` to do the same. An earlier version
# raised MaxStartups in this drop-in instead; the bootstrap removes it, and the host is its own again.
SSHD_DROP_IN = "/etc/ssh/sshd_config.d/50-pypi-index.conf"
SSHD_DROP_IN_MARK = "# Written by the pypi-index bootstrap"
PARALLEL = 8


def sshd_as_the_distribution_has_it() -> str:
    """Remove the MaxStartups drop-in an earlier version of the bootstrap wrote (only ours: it starts with
    SSHD_DROP_IN_MARK), checked with `sshd -t`, then reload sshd."""
    return rf"""if sudo -n test -e {SSHD_DROP_IN} && sudo -n head -n 1 {SSHD_DROP_IN} | grep -q {shlex.quote("^" + SSHD_DROP_IN_MARK)}; then
  sudo -n rm -f {SSHD_DROP_IN}
  sudo -n sshd -t
  sudo -n systemctl reload ssh.service 2>/dev/null || sudo -n systemctl reload sshd.service
  echo "removed {SSHD_DROP_IN}, which an earlier version wrote: sshd is as its distribution has it"
fi
"""


def docker_bootstrap() -> str:
    """Make sure a fresh Ubuntu/Debian host runs a supported Docker engine the SSH user may use.

    It runs after the guard's preflight (which refused an installed engine older than MIN_ENGINE before
    the host was claimed). Idempotent: installs only what is missing, from the distribution's own
    registry, waiting (with a bound) while another process holds apt's lock. An engine older than
    MIN_ENGINE about to be installed is refused before it is; on a host without an engine nothing of
    the index can exist yet, so the claim the guard just wrote is released with that refusal.
    sshd is left as the distribution has it (sshd_as_the_distribution_has_it).
    The last line reports the engine (`ENGINE docker <version> API <api>`). The group change
    matters for the Docker provider, whose `docker system dial-stdio` runs as the SSH user in a new
    session after this one; that command is the docker client, which Debian 13 ships in its own
    package (docker-cli, only recommended by docker.io).
    """
    return (
        "set -eu\n"
        + SBIN_ON_PATH
        + apt_waiting_for_locks()
        + _engine_floor()
        + _release_claim_if_refused()
        + _install_what_is_missing()
        + _engine_answering()
        + sshd_as_the_distribution_has_it()
        + rf"""echo "docker ready on $(hostname)"
echo "{ENGINE_REPORT} $version API $(sudo -n docker version --format '{{{{.Server.APIVersion}}}}')"
"""
    )


# dockerd lives in /usr/sbin, which the PATH of a non-root SSH session (sshd's default,
# /usr/local/bin:/usr/bin:/bin) lacks: without this, an installed engine went unseen, its version
# unchecked, and apt asked to install docker.io over it.
SBIN_ON_PATH = 'PATH="/usr/local/sbin:/usr/sbin:/sbin:$PATH"\n'


def engine_floor_check() -> str:
    """The installed engine, if any, at least MIN_ENGINE: read-only, for the guard's preflight."""
    return SBIN_ON_PATH + _engine_floor()


def _release_claim_if_refused() -> str:
    """From here on, a failure on a host that has no engine yet (a refused candidate, apt giving up)
    also releases the guard's claim: no container, volume or unit of the index can exist there yet,
    and the host is left as it was for this or another stack."""
    marker = shlex.quote(STACK_MARKER)
    return f"""if ! command -v dockerd >/dev/null 2>&1; then
  trap 'status=$?; if [ "$status" -ne 0 ] && ! command -v dockerd >/dev/null 2>&1; then sudo -n rm -f {marker}; fi' EXIT
fi
"""


def _engine_floor() -> str:
    """Shell functions `supported VERSION` and `refuse VERSION`, then the installed engine checked."""
    major, minor = MIN_ENGINE
    return rf"""supported() {{  # $1: a package or engine version: 20.10.24+dfsg1-1, 5:27.3.1-1~ubuntu.24.04~noble
  numbers=$(printf '%s\n' "$1" | sed -E 's/^[0-9]+://; s/^([0-9]+)\.([0-9]+).*/\1 \2/')
  major=${{numbers% *}}
  minor=${{numbers#* }}
  [ "$major" -gt {major} ] || {{ [ "$major" -eq {major} ] && [ "$minor" -ge {minor} ]; }}
}}
refuse() {{
  echo "$(hostname) has Docker $1; pypi-index needs Docker {major}.{minor} (API {MIN_API}) or newer:" \
    "upgrade the engine (Debian 12 and Ubuntu 22.04 or newer ship one) and deploy again" >&2
  exit 1
}}
if command -v dockerd >/dev/null 2>&1; then
  installed=$(dockerd --version | sed -E 's/^Docker version ([^ ,]+).*/\1/')
  supported "$installed" || refuse "$installed"
fi
"""


def _install_what_is_missing() -> str:
    """The engine, its client and curl from the distribution, the engine's candidate checked first."""
    major, minor = MIN_ENGINE
    return rf"""packages=""
command -v dockerd >/dev/null 2>&1 || packages="$packages docker.io"
command -v docker >/dev/null 2>&1 || packages="$packages docker-cli"
command -v curl >/dev/null 2>&1 || packages="$packages curl"
if [ -n "$packages" ]; then
  apt update -q
  if ! command -v dockerd >/dev/null 2>&1; then
    candidate=$(apt-cache policy docker.io | sed -n 's/^ *Candidate: *//p')
    if [ -z "$candidate" ] || [ "$candidate" = "(none)" ]; then
      echo "$(hostname): the distribution offers no docker.io package; install Docker {major}.{minor} or newer" >&2
      exit 1
    fi
    supported "$candidate" || refuse "$candidate"
  fi
  # docker-cli exists where the client is packaged apart (Debian 13); elsewhere docker.io has it.
  if ! apt-cache show docker-cli >/dev/null 2>&1; then
    packages=$(printf '%s' "$packages" | sed 's/docker-cli/docker.io/')
  fi
  # shellcheck disable=SC2086 # one word per package
  apt install -y -q $packages
fi
"""


def _engine_answering() -> str:
    """The engine enabled and answering, the SSH user in its group, its version checked (`$version`)."""
    return r"""sudo -n systemctl enable --now docker.service
me=$(id -un)
if [ "$me" != root ] && ! id -nG "$me" | tr ' ' '\n' | grep -qx docker; then
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
version=$(sudo -n docker version --format '{{.Server.Version}}')
supported "$version" || refuse "$version"
"""


STACK_MARKER = "/var/lib/pypi-index/stack"


def host_guard_create(stack: str, preflight: str = "") -> str:
    """Claim the host for this stack, or refuse one that another stack's index already runs on.

    Two stacks on one host would fight over the same container, volume and unit names. `preflight`
    (read-only checks: the installed engine, what other parts hand the host) runs first, so a deploy
    it refuses leaves the host exactly as it was, unclaimed.
    """
    marker, claimed = shlex.quote(STACK_MARKER), shlex.quote(stack)
    return (
        "set -eu\n"
        + preflight
        + rf"""owner=$(sudo -n cat {marker} 2>/dev/null || true)
if [ -n "$owner" ] && [ "$owner" != {claimed} ]; then
  echo "$(hostname) already runs the index of stack $owner ({STACK_MARKER}): refusing to deploy stack" \
    {claimed} "onto it (two stacks on one host share container, volume and unit names)" >&2
  exit 1
fi
if [ -z "$owner" ]; then
  sudo -n install -d -m 0755 "$(dirname {marker})"
  printf '%s\n' {claimed} | sudo -n tee {marker} >/dev/null
fi
echo {claimed} "on $(hostname)"
"""
    )


def host_guard_update(stack: str, preflight: str = "") -> str:
    """Run when the connection or a preflight check changes (another address, port, user or key; a new
    backup schedule): allowed only if it still reaches the host this stack deployed to, and the
    preflight passes there.

    The Docker provider changes its host in place and keeps every resource in state (pulumi-docker
    declares no ForcesProviderReplace; the engine's Registry.Update keeps the provider's ID), so a
    new sshHost would leave the state describing containers and volumes on the old host while
    the commands ran on the new one. A renamed or re-keyed host carries the marker and passes.
    """
    marker, claimed = shlex.quote(STACK_MARKER), shlex.quote(stack)
    return (
        "set -eu\n"
        + preflight
        + rf"""owner=$(sudo -n cat {marker} 2>/dev/null || true)
if [ "$owner" != {claimed} ]; then
  echo "the connection now reaches $(hostname), which does not run stack" {claimed} "(its {STACK_MARKER}" \
    "says '${{owner:-nothing}}'): this stack's containers and volumes are on the host it deployed to before." \
    "Changing sshHost does not move an index; set it back, or see 'moving to another host' in the README" >&2
  exit 1
fi
echo {claimed} "on $(hostname)"
"""
    )


def host_guard_delete() -> str:
    """On destroy: the host no longer runs this stack's index."""
    return f"sudo -n rm -f {shlex.quote(STACK_MARKER)}\n"
