"""The bootstrap on a stock host: its apt where another process holds apt's and dpkg's locks, as
unattended-upgrades does on a freshly booted Ubuntu cloud image (it waits within a bound and then
runs, or says plainly why it gave up; any other apt failure stops it at once), and its sshd, left as
the distribution has it: it takes a deploy's logins at the parallelism the program's entry points use."""

from __future__ import annotations

import subprocess
import time

import pytest

from components.host.scripts import (
    PARALLEL,
    SSHD_DROP_IN,
    SSHD_DROP_IN_MARK,
    STACK_MARKER,
    apt_waiting_for_locks,
    docker_bootstrap,
    engine_floor_check,
    host_guard_create,
    sshd_as_the_distribution_has_it,
)

from .commands import figure
from .machine import TestHost

# Takes the locks apt-get and dpkg take (fcntl locks, as apt-pkg's GetLock does) and keeps them.
HOLD_LOCKS = """
import fcntl, sys, time
paths = ("/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock", "/var/lib/apt/lists/lock")
held = [open(path, "a") for path in paths]
for handle in held:
    fcntl.lockf(handle, fcntl.LOCK_EX)
open("/run/locks-held", "w").close()
time.sleep(float(sys.argv[1]))
"""


def _hold_locks(host, seconds: float) -> None:
    host.exec("rm -f /run/locks-held && cat > /run/hold-locks.py", stdin=HOLD_LOCKS)
    host.exec(f"setsid python3 /run/hold-locks.py {seconds} >/dev/null 2>&1 < /dev/null &")
    deadline = time.monotonic() + 20
    while host.exec("test -e /run/locks-held", check=False).returncode != 0:
        assert time.monotonic() < deadline, "the lock holder did not start"
        time.sleep(0.2)


def _apt(host, bound: int, *args: str):
    script = "set -eu\n" + apt_waiting_for_locks(bound) + f"apt {' '.join(args)}\n"
    started = time.monotonic()
    result = host.ssh(script, check=False, timeout=bound + 120)
    return result, time.monotonic() - started


def test_apt_waits_while_another_process_holds_the_lock(target_host):
    _hold_locks(target_host, 12)
    result, took = _apt(target_host, 120, "update", "-q")
    assert result.returncode == 0, result.stderr
    assert took >= 8, f"apt-get ran after {took:.1f} s: it did not wait for the lock"


def test_apt_gives_up_after_its_bound_and_says_why(target_host):
    _hold_locks(target_host, 60)
    try:
        result, took = _apt(target_host, 6, "update", "-q")
        assert result.returncode != 0
        assert 6 <= took < 40, f"gave up after {took:.1f} s with a bound of 6 s"
        assert "waited 6 s for another process to release apt's lock" in result.stderr, result.stderr
        assert "held by process" in result.stderr, "apt's own line naming the holder is kept"
        assert "unattended-upgrades" in result.stderr, "the message says what usually holds it"
    finally:
        target_host.exec("pkill -f /run/hold-locks.py", check=False)


def test_any_other_apt_failure_stops_at_once(target_host):
    result, took = _apt(target_host, 120, "install", "-y", "-q", "no-such-package-pypi-index")
    assert result.returncode != 0
    assert took < 20, f"a failure that is not a lock was retried for {took:.1f} s"
    assert "no-such-package-pypi-index" in result.stderr


def _burst(host, count: int) -> list[str]:
    """`count` SSH logins started at once, as the Docker provider dials one per resource: the
    stderr of each that failed."""
    command = [
        "ssh",
        "-F",
        str(host.ssh_config_path),
        "-p",
        str(host.ssh_port),
        f"{host.user}@{host.address}",
        "--",
        "true",
    ]
    processes = [
        subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(count)
    ]
    failures = []
    for process in processes:
        _, err = process.communicate(timeout=120)
        if process.returncode != 0:
            failures.append(err.strip())
    return failures


@pytest.mark.boots_host
def test_a_stock_sshd_takes_as_many_logins_at_once_as_the_deploys_parallelism(host_images):
    with TestHost(host_images, suite="bookworm", load_standins=False) as host:
        assert host.exec("sshd -T | grep -i '^maxstartups '").stdout.split()[1] == "10:30:100", "premise: stock"
        many = _burst(host, 48)
        figure(f"SSH 48 logins at once on a stock Debian 12 sshd: {len(many)} dropped (MaxStartups 10:30:100)")
        for _ in range(5):
            dropped = _burst(host, PARALLEL)
            assert not dropped, f"{len(dropped)} of {PARALLEL} logins at once dropped: {dropped[:3]}"


@pytest.mark.boots_host
def test_the_bootstrap_removes_the_drop_in_an_earlier_version_wrote_and_only_that(host_images):
    with TestHost(host_images, suite="bookworm", load_standins=False) as host:
        ours = f"{SSHD_DROP_IN_MARK} (components/host/scripts.py): ...\nMaxStartups 64:30:128\n"
        host.exec(f"cat > {SSHD_DROP_IN}", stdin=ours)
        said = host.ssh("set -eu\n" + sshd_as_the_distribution_has_it()).stdout
        assert "removed" in said and host.exec(f"test -e {SSHD_DROP_IN}", check=False).returncode != 0
        assert host.exec("sshd -T | grep -i '^maxstartups '").stdout.split()[1] == "10:30:100"
        someone_elses = "# the operator's own\nMaxStartups 20:30:60\n"
        host.exec(f"cat > {SSHD_DROP_IN}", stdin=someone_elses)
        assert host.ssh("set -eu\n" + sshd_as_the_distribution_has_it()).stdout == ""
        assert host.exec(f"cat {SSHD_DROP_IN}").stdout == someone_elses, "a file not ours is left alone"


OLD_ENGINE = "#!/bin/sh\necho 'Docker version 19.03.15, build 99e3ed8'\n"


@pytest.mark.boots_host
def test_an_engine_older_than_the_floor_is_refused_before_anything_on_the_host_changes(host_images):
    with TestHost(host_images, suite="bookworm", load_standins=False) as host:
        assert host.ssh("command -v dockerd", check=False).returncode != 0, "premise: sbin is not on the SSH PATH"
        host.exec("cat > /usr/local/sbin/dockerd && chmod 0755 /usr/local/sbin/dockerd", stdin=OLD_ENGINE)
        lists_before = host.exec("ls -l --time-style=+%s /var/lib/apt/lists").stdout
        # The guard's preflight, as the program sends it: refused before the host is claimed.
        refused = host.ssh(host_guard_create("pypi-index/production", engine_floor_check()), check=False)
        assert refused.returncode != 0
        assert "has Docker 19.03.15; pypi-index needs Docker 20.10 (API 1.41) or newer" in refused.stderr, (
            refused.stderr
        )
        assert host.exec(f"test -e {STACK_MARKER}", check=False).returncode != 0, "the host was claimed"
        assert host.exec("ls -l --time-style=+%s /var/lib/apt/lists").stdout == lists_before, "apt ran"
        assert host.exec(f"test -e {SSHD_DROP_IN}", check=False).returncode != 0, "sshd was changed"


# apt-cache as a distribution that offers only an engine below the floor would answer.
OLD_CANDIDATE = """#!/bin/sh
if [ "$1" = policy ]; then printf 'docker.io:\n  Installed: (none)\n  Candidate: 19.03.15-1\n'; exit 0; fi
exec /usr/bin/apt-cache "$@"
"""


@pytest.mark.boots_host
def test_a_bootstrap_refused_on_a_host_without_an_engine_releases_the_claim(host_images):
    with TestHost(host_images, suite="trixie", load_standins=False) as host:
        assert not host.has_engine, "premise: the Debian 13 test host has no engine"
        host.exec("cat > /usr/local/bin/apt-cache && chmod 0755 /usr/local/bin/apt-cache", stdin=OLD_CANDIDATE)
        assert "production on" in host.ssh(host_guard_create("pypi-index/production", engine_floor_check())).stdout
        refused = host.ssh(docker_bootstrap(), check=False, timeout=600)
        assert refused.returncode != 0 and "19.03.15" in refused.stderr, refused.stderr
        assert not host.has_engine
        assert host.exec(f"test -e {STACK_MARKER}", check=False).returncode != 0, "the claim outlived the refusal"


@pytest.mark.boots_host
def test_a_host_that_runs_another_stack_is_refused_and_keeps_its_claim(host_images):
    with TestHost(host_images, suite="bookworm", load_standins=False) as host:
        assert "production on" in host.ssh(host_guard_create("production")).stdout
        refused = host.ssh(host_guard_create("staging"), check=False)
        assert refused.returncode != 0
        assert (
            "already runs the index of stack production" in refused.stderr
            and "refusing to deploy stack" in refused.stderr
        )
        assert host.exec(f"cat {STACK_MARKER}").stdout.strip() == "production", "the claim is unchanged"
        assert "production on" in host.ssh(host_guard_create("production")).stdout, "its own stack passes again"
