"""Every shell script the program sends to a host, as pure functions of their inputs.

Each script is POSIX sh, checked by shellcheck in the tests. None contains a secret: secret data
(the htpasswd file) reaches a script on stdin only. `as_command()` turns a script into the one-line
command string that pulumi-command runs (through the login shell remotely, /bin/sh -c locally).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass

from .server_args import HEALTH_PATH
from .systemd_unit import unit_name, unit_path


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


def calendar_check(key: str, expression: str) -> str:
    """Refuse a systemd calendar time that this host's systemd does not accept, naming the key and
    quoting systemd's own complaint (its parser is the only complete judge of OnCalendar)."""
    quoted = shlex.quote(expression)
    return f"""if ! problem=$(systemd-analyze calendar -- {quoted} 2>&1 >/dev/null); then
  echo "config {key}: got "{shlex.quote(repr(expression))}"; systemd on $(hostname) does not accept it as an" \\
    "OnCalendar time: $problem (see systemd.time(7))" >&2
  exit 1
fi
"""


# The Docker provider dials `ssh ... docker system dial-stdio` once per resource operation, all at once:
# Pulumi runs 4 operations per CPU in parallel (`--parallel`), and kreuzwerker's client cache keeps a
# client only after its first ping (internal/provider/config.go). OpenSSH's default `MaxStartups
# 10:30:100` drops unauthenticated connections past 10 ("kex_exchange_identification: Connection closed
# by remote host"): the first `pulumi up` from an 8-core workstation failed so on a stock Debian host.
SSHD_DROP_IN = "/etc/ssh/sshd_config.d/50-pypi-index.conf"
SSHD_MAX_STARTUPS = "64:30:128"


def sshd_allows_parallel_dials() -> str:
    """Raise sshd's MaxStartups (a drop-in, checked with `sshd -t`, then a reload), and say if another
    setting wins over it. sshd takes the first value it reads, and Debian's and Ubuntu's sshd_config
    include sshd_config.d/*.conf first."""
    text = (
        "# Written by the pypi-index bootstrap (components/scripts.py): the Docker provider dials many\n"
        f"# SSH connections at once.\nMaxStartups {SSHD_MAX_STARTUPS}"
    )
    return rf"""want={shlex.quote(text)}
if [ "$(sudo -n cat {SSHD_DROP_IN} 2>/dev/null)" != "$want" ]; then
  printf '%s\n' "$want" | sudo -n tee {SSHD_DROP_IN} >/dev/null
  if ! problem=$(sudo -n sshd -t 2>&1); then
    sudo -n rm -f {SSHD_DROP_IN}
    echo "$(hostname): sshd refused {SSHD_DROP_IN}, so it was removed: $problem" >&2
    exit 1
  fi
  sudo -n systemctl reload ssh.service 2>/dev/null || sudo -n systemctl reload sshd.service
fi
effective=$(sudo -n sshd -T 2>/dev/null | sed -n 's/^maxstartups //p')
if [ "$effective" != {SSHD_MAX_STARTUPS} ]; then
  echo "warning: sshd on $(hostname) uses MaxStartups $effective (set before {SSHD_DROP_IN}); with more" \
    "than 10 SSH connections at once it drops some: deploy with 'pulumi up --parallel 4'" >&2
fi
"""


def docker_bootstrap(schedule: str | None = None) -> str:
    """Make sure a fresh Ubuntu/Debian host runs a supported Docker engine the SSH user may use.

    First of all it checks `schedule` (the backups' OnCalendar time, when there are backups) with this
    host's systemd. Idempotent: installs only what is missing, from the distribution's own registry,
    waiting (with a bound) while another process holds apt's lock. An engine older
    than MIN_ENGINE, installed or about to be, is refused before anything else on the host changes.
    Last, sshd is made to take the Docker provider's parallel connections (sshd_allows_parallel_dials).
    The last line reports the engine (`ENGINE docker <version> API <api>`). The group change
    matters for the Docker provider, whose `docker system dial-stdio` runs as the SSH user in a new
    session after this one; that command is the docker client, which Debian 13 ships in its own
    package (docker-cli, only recommended by docker.io).
    """
    major, minor = MIN_ENGINE
    return (
        "set -eu\n"
        # dockerd lives in /usr/sbin, which the PATH of a non-root SSH session (sshd's default,
        # /usr/local/bin:/usr/bin:/bin) lacks: without this, an installed engine went unseen, its
        # version unchecked, and apt asked to install docker.io over it.
        + 'PATH="/usr/local/sbin:/usr/sbin:/sbin:$PATH"\n'
        + (calendar_check("backupSchedule", schedule) if schedule else "")
        + apt_waiting_for_locks()
        + rf"""supported() {{  # $1: a package or engine version: 20.10.24+dfsg1-1, 5:27.3.1-1~ubuntu.24.04~noble
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
packages=""
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
sudo -n systemctl enable --now docker.service
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
version=$(sudo -n docker version --format '{{{{.Server.Version}}}}')
supported "$version" || refuse "$version"
"""
        + sshd_allows_parallel_dials()
        + rf"""echo "docker ready on $(hostname)"
echo "{ENGINE_REPORT} $version API $(sudo -n docker version --format '{{{{.Server.APIVersion}}}}')"
"""
    )


STACK_MARKER = "/var/lib/pypi-index/stack"


def host_guard_create(stack: str) -> str:
    """Claim the host for this stack, or refuse one that another stack's index already runs on.

    Two stacks on one host would fight over the same container, volume and unit names.
    """
    marker, claimed = shlex.quote(STACK_MARKER), shlex.quote(stack)
    return rf"""set -eu
owner=$(sudo -n cat {marker} 2>/dev/null || true)
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


def host_guard_update(stack: str) -> str:
    """Run when the connection changes (another address, port, user or key): allowed only if it still
    reaches the host this stack deployed to.

    The Docker provider changes its host in place and keeps every resource in state (pulumi-docker
    declares no ForcesProviderReplace; the engine's Registry.Update keeps the provider's ID), so a
    new sshHost would leave the state describing containers and volumes on the old host while
    the commands ran on the new one. A renamed or re-keyed host carries the marker and passes.
    """
    marker, claimed = shlex.quote(STACK_MARKER), shlex.quote(stack)
    return rf"""set -eu
owner=$(sudo -n cat {marker} 2>/dev/null || true)
if [ "$owner" != {claimed} ]; then
  echo "the connection now reaches $(hostname), which does not run stack" {claimed} "(its {STACK_MARKER}" \
    "says '${{owner:-nothing}}'): this stack's containers and volumes are on the host it deployed to before." \
    "Changing sshHost does not move an index; set it back, or see 'moving to another host' in the README" >&2
  exit 1
fi
echo {claimed} "on $(hostname)"
"""


def host_guard_delete() -> str:
    """On destroy: the host no longer runs this stack's index."""
    return f"sudo -n rm -f {shlex.quote(STACK_MARKER)}\n"


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
    return _in_volume(volume, mount, image, inner) + then


def write_volume_folder(volume: str, mount: str, name: str, image: str, keep: int) -> str:
    """Unpack stdin (a tar archive in base64) into `volume` as the folder `name`, once.

    The folder appears whole (unpacked beside it, then renamed) and is never rewritten: its name is
    the hash of its content. It belongs to root and every user may read it (0755, files 0644): the
    programs are no secret, the indexer is root without any capability (so without the right to
    read another user's private files), and pypiserver's user must not be able to change the code
    it runs. Of the folders named like it (hex), the newest `keep` stay; earlier releases' single
    gunicorn.conf.py counts as one of them.
    """
    folder = shlex.quote(name)
    inner = (
        f"set -eu; umask 022; cd {shlex.quote(mount)}; "
        "base64 -d > .incoming.tar; "
        f"if [ ! -d {folder} ]; then "
        f"rm -rf {folder}.new; mkdir {folder}.new; tar -x -f .incoming.tar -C {folder}.new; "
        f"mv {folder}.new {folder}; fi; "
        f"rm -f .incoming.tar; chown -R 0:0 {folder}; chmod -R u=rwX,go=rX {folder}; touch {folder}; "
        f"ls -1t | grep -E '^([0-9a-f]{{16}}|gunicorn[.]conf[.]py)$' | tail -n +{keep + 1} | xargs -r rm -rf"
    )
    return _in_volume(volume, mount, image, inner)


def _in_volume(volume: str, mount: str, image: str, inner: str) -> str:
    """Run `inner` (sh, reading the step's stdin) as root in a throw-away container of `image` with
    `volume` mounted at `mount` and no network."""
    return (
        "set -eu\n"
        "docker run --rm -i --network none --user 0:0 --entrypoint /bin/sh \\\n"
        f"  --mount type=volume,source={shlex.quote(volume)},target={shlex.quote(mount)} \\\n"
        f"  {shlex.quote(image)} -c {shlex.quote(inner)}\n"
    )


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
    indexer: IndexerReading | None = None,
) -> str:
    """Fail the deploy unless the index answers healthy through the front server's port in time.

    It connects to `address` (the host's own side of the published port) under the certificate's
    name, so TLS and routing are exercised as clients see them; `-k` because it checks that the index
    answers, not who signed its certificate (an ACME certificate may take longer than the first try).
    With `indexer`, it also waits until the indexer it deployed has written its reading (a dead or
    crash-looping indexer leaves the pages stale while everything else answers), and prints the
    reading last. On failure it prints every container's state and last log lines, so the error says why.
    """
    host = f"[{domain}]" if ":" in domain else domain
    url = f"https://{host}:{port}{HEALTH_PATH}"
    resolve = shlex.quote(f"{host}:{port}:{address}")
    disk_check = disk_echo = ""
    if indexer:
        read_disk = shlex.join(["docker", "exec", indexer.reader, "cat", indexer.report])
        written_by = shlex.join(["docker", "exec", indexer.reader, "cat", indexer.mark])
        deployed = shlex.join(["docker", "inspect", "--format", "{{.Config.Hostname}}", indexer.container])
        disk_check = (
            f' && [ "$({written_by} 2>/dev/null)" = "$({deployed} 2>/dev/null)" ] && {read_disk} >/dev/null 2>&1'
        )
        disk_echo = f'\n    echo "disk: $({read_disk})"'
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
    echo "healthy: {url}"{disk_echo}
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


def read_file_in(container: str, path: str) -> str:
    """Print a file from a running container (e.g. the front server's public CA certificate)."""
    return f"docker exec {shlex.quote(container)} cat {shlex.quote(path)}\n"


def canary(
    name: str,
    image: str,
    args: list[str],
    env: list[str],
    config_mounts: list[tuple[str, str]],
    scratch: str,
    memory_mb: int,
    health: list[str],
    timeout_seconds: int,
) -> str:
    """Start the new pypiserver beside the running one, as container `name` (one per index, so two
    stacks on one engine never remove each other's), and wait for it to answer healthy.

    It starts as the replacement will: the same image and entrypoint, arguments, environment, memory
    limit and security options, as root, so the image's entrypoint checks its folders and drops to its
    own user exactly as it will for the service. What it cannot do is reach the store or a client:
    - the package store is not mounted at all. `scratch` (the package folder) is a small tmpfs of its
      own, discarded with the container. The store cannot be lent read-only instead: the official
      entrypoint refuses to start unless its user can write the package folder (pypiserver
      docker/entrypoint.sh, `test -w /data/packages`, then exit 1 with "must have read/write/execute
      access to /data/packages"), whoever it runs as;
    - the configuration volumes (`config_mounts`: volume -> target; gunicorn's hooks, the htpasswd
      file) are mounted read-only, so the new release reads the configuration it will be given;
    - no network at all and no published port.
    On failure: its last log lines, and a non-zero exit that stops `pulumi up` before the running
    container is touched. The canary is always removed.
    """
    run = ["docker", "run", "--detach", "--name", name, "--network", "none"]
    run += ["--memory", f"{memory_mb}m", "--security-opt", "no-new-privileges:true"]
    run += ["--tmpfs", f"{scratch}:rw,nosuid,nodev,noexec,size=16m"]
    for volume, target in config_mounts:
        run += ["--mount", f"type=volume,source={volume},target={target},readonly"]
    for variable in env:
        run += ["--env", variable]
    run += [image, *args]
    probe = shlex.join(["docker", "exec", name, *health])
    return f"""set -eu
docker rm -f {name} >/dev/null 2>&1 || true
trap 'docker rm -f {name} >/dev/null 2>&1 || true' EXIT
{shlex.join(run)} >/dev/null
deadline=$(( $(date +%s) + {timeout_seconds} ))
until {probe} >/dev/null 2>&1; do
  if [ "$(docker inspect --format '{{{{.State.Running}}}}' {name} 2>/dev/null)" != true ] || [ "$(date +%s)" -ge "$deadline" ]; then
    echo "the new pypiserver ({image}) did not answer healthy within {timeout_seconds} s beside the running one," >&2
    echo "so nothing was replaced and the index keeps running as it was. The new one's last log lines:" >&2
    docker logs --tail 40 {name} >&2 || true
    exit 1
  fi
  sleep 1
done
echo "canary healthy: {image}"
"""
