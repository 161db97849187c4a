"""The production stack site by the real engine onto real hosts (systemd, sshd, their own Docker
engine) over SSH, as an operator runs it: `pulumi up`, then a preview that must show no change.

The scenarios run in file order on one host and one stack, as an operator would live them: bad input
first (nothing may change), then deploy, use, restarts, an upgrade, user changes, a host change,
destroy. They run on every kind of test host (`engine_host`, images.HOST_ENGINES): Debian 12 with its
docker.io 20.10 (API 1.41, the floor), Debian 13 without Docker, where the bootstrap installs docker.io
26.1 (API 1.45), and Debian 13 with sid's docker.io 28.5 (API 1.51, the newest a user meets). The
daemons carry default log options (files/host/daemon.json).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from components.host.settings import SshSettings
from components.host.target import docker_ssh_opts
from components.in_container.index_rules import project_of
from tests.support import readme_commands
from tests.support.engine import expect_failure
from tests.support.index_client import (
    http_get,
    make_wheel,
    pip_install,
    retrying_a_dropped_connection,
    twine_upload,
    upload,
)
from tests.support.recorded import DOCKER_PROVIDER, REMOTE_COMMAND

from .commands import figure, run, wait_until
from .deploys import UNITS, USERS, Site, SshAgent, destroyed, host_state, leave_empty, new_site
from .machine import TestHost, free_port

UPGRADE_FROM, UPGRADE_TO = "v2.4.0", "v2.4.1"


@contextmanager
def unavailability(
    site: Site, user: str, password: str, path: str = "/simple/", retry_dropped: bool = False
) -> Iterator[dict]:
    """Poll `path` every 50 ms with credentials; report the longest stretch it was not answering 200.
    With `retry_dropped`, a request whose connection was dropped unanswered is sent once more at once,
    as pip does (index_client.retrying_a_dropped_connection), and `retried` counts those."""
    result = {"seconds": 0.0, "polls": 0, "failed": 0, "retried": 0}
    stop = threading.Event()

    def poll() -> None:
        down_since = None
        while not stop.is_set():
            try:
                if retry_dropped:
                    reply, retried = retrying_a_dropped_connection(lambda: site.get(path, user, password, timeout=2))
                    result["retried"] += retried
                else:
                    reply = site.get(path, user, password, timeout=2)
                ok = reply.status == 200
            except OSError:
                ok = False
            result["polls"] += 1
            result["failed"] += not ok
            now = time.monotonic()
            if ok and down_since is not None:
                result["seconds"] = max(result["seconds"], now - down_since)
                down_since = None
            elif not ok and down_since is None:
                down_since = now
            time.sleep(0.05)
        if down_since is not None:
            result["seconds"] = max(result["seconds"], time.monotonic() - down_since)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        stop.set()
        thread.join()


@pytest.fixture(scope="module")
def site(engine_host: TestHost, backup_server, tmp_path_factory) -> Iterator[Site]:
    """One production stack on the module's host, for every scenario below; destroyed at the end."""
    agent = SshAgent()
    work = tmp_path_factory.mktemp(f"deploy-{engine_host.suite}")
    production = new_site(
        engine_host, agent, work, backup_server.config(f"deploy-{engine_host.suite}"), imageTag=UPGRADE_FROM
    )
    try:
        with destroyed(production):
            yield production
    finally:
        agent.close()
        leave_empty(engine_host)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    return make_wheel(tmp_path_factory.mktemp("dist"), "team-tool", "1.0.0")


def test_8_unreachable_host_fails_clearly_and_changes_nothing(site):
    before = host_state(site.host)
    assert before["containers"] == before["volumes"] == before["units"] == [] and not before["claimed"], before
    site.configure(sshPort=str(free_port()))
    said = expect_failure(site.stack.up)
    assert "host-guard" in said and "connection refused" in said.lower(), said[-3000:]
    assert host_state(site.host) == before
    site.configure(sshPort=str(site.host.ssh_port))


def test_8_a_deploy_refused_by_a_check_leaves_the_host_unclaimed(site):
    before = host_state(site.host)
    site.configure(backupSchedule="Mon..Fri *-*-* 25:00")  # the settings pass it; only systemd can judge it
    said = expect_failure(site.stack.up)
    assert "config backupSchedule: got 'Mon..Fri *-*-* 25:00'" in said and "does not accept it" in said, said[-3000:]
    assert host_state(site.host) == before, "a refused deploy claims nothing and changes nothing"
    site.config.pop("backupSchedule")
    site.configure()


def docker_through_the_providers_ssh(host: TestHost, host_key: str, work: Path) -> subprocess.CompletedProcess:
    """`docker version` over the OpenSSH options the program gives the Docker provider. The real engine
    cannot show this path with a wrong key: the host guard (pulumi-command) refuses first, and nothing
    after it runs. The docker CLI dials `ssh ... docker system dial-stdio` through the same connection
    helper the provider uses (docker/cli cli/connhelper: the provider's GetConnectionHelperWithSSHOpts,
    the CLI's GetConnectionHelper, which passes no options); a wrapper first on PATH adds the program's
    options and the deploy key, which the provider takes from the agent."""
    options = docker_ssh_opts(SshSettings("127.0.0.1", host.ssh_port, host.user, host_key, False))
    wrapper = work / "bin" / "ssh"
    wrapper.parent.mkdir(exist_ok=True)
    quoted = " ".join(f"'{option}'" for option in options)
    wrapper.write_text(f'#!/bin/sh\nexec /usr/bin/ssh {quoted} -i {host.private_key_path} -o IdentitiesOnly=yes "$@"\n')
    wrapper.chmod(0o755)
    env = {**os.environ, "PATH": f"{wrapper.parent}:{os.environ['PATH']}", "DOCKER_HOST": host.docker_host}
    return run(["docker", "version", "--format", "{{.Server.APIVersion}}"], env=env, check=False, timeout=60)


def test_8_wrong_host_key_fails_clearly_and_changes_nothing(site, tmp_path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    impostor = " ".join((tmp_path / "other.pub").read_text().split()[:2])
    before = host_state(site.host)
    site.configure(sshHostKey=impostor)
    said = expect_failure(site.stack.up)
    assert "host-guard" in said and "host key mismatch" in said, said[-3000:]
    assert host_state(site.host) == before
    site.configure(sshHostKey=site.host.host_public_key)
    # The Docker provider's own path, which the guard's failure never reaches.
    refused = docker_through_the_providers_ssh(site.host, impostor, tmp_path)
    assert refused.returncode != 0 and "Host key verification failed" in refused.stderr, refused.stderr
    admitted = docker_through_the_providers_ssh(site.host, site.host.host_public_key, tmp_path)
    if site.host.has_engine:
        assert admitted.returncode == 0 and admitted.stdout.strip(), admitted.stderr
    else:  # a bare host before its bootstrap: in, and nothing to talk to yet
        assert "docker: command not found" in admitted.stderr or "dial-stdio" in admitted.stderr, admitted.stderr
    assert host_state(site.host) == before


def test_1_fresh_host_deploy_is_active_enabled_and_healthy(site):
    installs = not site.host.kind.engine
    assert site.host.has_engine != installs, "the Debian 13 host starts without Docker: the bootstrap installs it"
    started = time.monotonic()
    site.deploy()
    took = time.monotonic() - started
    report = site.bootstrap_report()
    figure(f"{report} ({site.host.suite} host, {'installed by the bootstrap' if installs else 'preinstalled'})")
    figure(f"first deploy onto a fresh {site.host.suite} host: {took:.1f} s")
    assert report.startswith("ENGINE docker ") and report.endswith(f" API {site.host.kind.api}"), report
    assert site.host.has_engine
    assert site.host.exec("cat /var/lib/pypi-index/stack").stdout.strip() == "pypi-index/production"
    # pulumi-command hands over stdout without its final newline; the output a user saves is whole PEM.
    assert site.stack.resource("pypi-ca")["outputs"]["stdout"].endswith("-----END CERTIFICATE-----")
    assert site.ca.read_text().endswith("-----END CERTIFICATE-----\n")
    disk = site.stack.outputs()["diskFree"]
    gate = site.stack.resource("pypi-health")["outputs"].get("stdout")
    assert "GiB free of" in disk and "uploads need" in disk, f"the diskFree output: {disk!r}; the gate said {gate!r}"
    figure(f"diskFree after the first deploy ({site.host.suite} host): {disk}")
    for unit in UNITS:
        assert site.host.ssh(f"systemctl is-active {unit}").stdout.strip() == "active", unit
        assert site.host.ssh(f"systemctl is-enabled {unit}").stdout.strip() == "enabled", unit
    reply = site.get("/health")
    assert reply.status == 200 and reply.body == b"Ok"
    for container in UNITS:
        policy = site.host.ssh(f"docker inspect --format '{{{{.HostConfig.RestartPolicy.Name}}}}' {container}").stdout
        assert policy.strip() == "no", f"{container}: systemd supervises; Docker must not restart it too"
    ports = site.host.ssh("docker inspect --format '{{json .NetworkSettings.Ports}}' pypiserver").stdout
    assert "HostPort" not in ports, f"pypiserver is not published, only the front server: {ports}"
    rows = site.host.ssh("docker top pypiserver -o pid,uid").stdout.splitlines()[1:]
    uids = [row.split()[1] for row in rows]
    assert uids and set(uids) == {"9898"}, f"pypiserver runs as uid 9898, not {uids}"


def test_1_second_up_changes_nothing(site):
    container = site.host.ssh("docker inspect --format '{{.Id}}' pypiserver").stdout.strip()
    result = site.stack.up()
    assert set(result.summary.resource_changes or {}) == {"same"}, result.summary.resource_changes
    assert site.host.ssh("docker inspect --format '{{.Id}}' pypiserver").stdout.strip() == container


AUDIT_COMMAND = (
    "sudo -n journalctl -u pypiserver -u pypiserver-indexer -u pypiserver-front -g '^audit: |http.log.access'"
    " -o short-iso --no-pager"
)


def test_2_upload_install_and_refusals_through_the_published_port(site, wheel, tmp_path):
    exports = site.stack.outputs()
    result = twine_upload(exports["uploadUrl"], wheel, "ci", USERS["ci"], ca=site.ca)
    assert result.returncode == 0, result.stdout + result.stderr
    installed = pip_install(
        tmp_path / "home", exports["pipConf"], "127.0.0.1", "alice", USERS["alice"], "team-tool", tmp_path / "site",
        ca=site.ca,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert (tmp_path / "site" / "team_tool" / "__init__.py").exists()
    # The upload audit, with the README's command: who, which file, its sha256, when.
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()

    def audited() -> str | None:
        audit = site.host.ssh(AUDIT_COMMAND).stdout
        return audit if "user=ci status=200 " in audit and digest in audit else None

    audit = wait_until("the upload's audit lines in the journal", audited, 20, 0.5)
    assert (
        f"file={wheel.name} sha256={digest}" in audit and f"audit: file added '{wheel.name}' sha256={digest}" in audit
    )
    for credentials in [(None, None), ("ci", "wrong-password-123"), ("mallory", USERS["ci"])]:
        for path in ("/simple/", "/simple/team-tool/", f"/packages/{wheel.name}"):
            assert site.get(path, *credentials).status in (401, 403), (credentials, path)
    refused = twine_upload(
        exports["uploadUrl"], make_wheel(tmp_path, "intruder", "1.0"), "ci", "wrong-password-123", ca=site.ca
    )
    assert refused.returncode != 0 and "401" in refused.stdout + refused.stderr
    # The refused attempt never reached pypiserver: the front server's access log has it, without the password.
    front = wait_until(
        "the refused upload in the front server's log",
        lambda: [line for line in site.host.ssh(AUDIT_COMMAND).stdout.splitlines() if '"status":401' in line],
        20,
        0.5,
    )
    assert '"method":"POST"' in front[-1] and "wrong-password-123" not in front[-1]


def test_2_only_the_health_check_is_open_and_names_redirect_through_the_published_port(site, wheel):
    for path in ("/HEALTH", "//health", "/x/../health", "/health/", "/%2Fhealth"):
        answer = http_get(f"{site.url}{path}", ca=site.ca, follow_redirects=False)
        assert answer.status == 401, (path, answer.status, answer.body[:200])
    assert http_get(f"{site.url}/%68ealth", ca=site.ca).status == 200
    for path in ("/simple/Team_Tool/", "/simple/TEAM.TOOL/", "/simple/team-tool"):
        answer = http_get(f"{site.url}{path}", "alice", USERS["alice"], ca=site.ca, follow_redirects=False)
        assert answer.status == 301 and answer.headers.get("Location") == "/simple/team-tool/", (path, answer)


def test_2_a_backup_runs_verified_and_says_when(site, wheel):
    assert "pypiserver-backup.timer" in site.host.ssh("systemctl list-timers --all --no-pager").stdout
    started = time.monotonic()
    site.host.ssh("sudo -n systemctl start pypiserver-backup.service", timeout=600)
    figure(f"a backup run ({site.host.suite} host): {time.monotonic() - started:.1f} s")
    status = site.host.ssh("pypi-index-backup-status").stdout
    assert "last good backup" in status and "verified" in status and "pypiserver-backup.timer" in status, status
    journal = site.host.ssh("sudo -n journalctl -u pypiserver-backup.service --no-pager").stdout
    assert "snapshot" in journal and "no errors were found" in journal, journal[-2000:]
    secrets = site.host.ssh("sudo -n stat -c '%a %U' /etc/pypi-index/backup /etc/pypi-index/backup/password").stdout
    assert secrets.split() == ["700", "root", "600", "root"], secrets
    # A run that fails (here: a wrong repository password) fails its unit, says so, and leaves the
    # record of the last good run as it was.
    record = site.host.ssh("sudo -n cat /var/lib/pypi-index/backup-status").stdout
    password = "/etc/pypi-index/backup/password"
    site.host.ssh(
        f"sudo -n cp -p {password} {password}.kept && echo wrong-password-for-the-test | sudo -n tee {password} >/dev/null"
    )
    try:
        failed = site.host.ssh("sudo -n systemctl start pypiserver-backup.service", check=False, timeout=600)
        assert failed.returncode != 0, "a failed backup run must fail its unit"
        assert site.host.ssh("systemctl is-failed pypiserver-backup.service", check=False).stdout.strip() == "failed"
        assert site.host.ssh("sudo -n cat /var/lib/pypi-index/backup-status").stdout == record, (
            "the last good record stays"
        )
        journal = site.host.ssh("sudo -n journalctl -u pypiserver-backup.service -n 20 --no-pager").stdout
        assert "backup failed; the last good one is still" in journal, journal[-2000:]
    finally:
        site.host.ssh(
            f"sudo -n mv -f {password}.kept {password} && sudo -n systemctl reset-failed pypiserver-backup.service"
        )


def test_2_the_readme_day_two_commands_run_as_written(site, tmp_path):
    env = readme_commands.ssh_alias_env(
        "HOST", "127.0.0.1", site.host.ssh_port, site.host.user, site.host.private_key_path,
        site.host.known_hosts_path, tmp_path,
    )  # fmt: skip
    commands = [command for block in readme_commands.blocks("host") for command in block]
    assert len(commands) >= 8, commands
    outcomes = [readme_commands.run(command, tmp_path, env) for command in commands]
    failed = [f"{o.command} -> {o.status}: {o.output[-500:]}" for o in outcomes if not o.ok]
    figure(f"README day-two commands ({site.host.suite} host): {len(outcomes)} run as written, {len(failed)} failed")
    assert not failed, "\n".join(failed)
    said = {o.command: o.output for o in outcomes}
    audit = next(text for command, text in said.items() if "audit" in command)
    assert "audit: upload user=ci status=200" in audit and "http.log.access" in audit, audit[-2000:]
    status = next(text for command, text in said.items() if "systemctl status" in command)
    assert status.count("Active: active (running)") == 3, status[-2000:]
    disk = next(text for command, text in said.items() if ".disk" in command)
    assert "free" in disk, disk
    site.wait_healthy(timeout=60)  # the last command restarted pypiserver


def index_rules(site: Site) -> list[str]:
    listing = site.host.ssh(
        "docker run --rm --mount type=volume,source=pypiserver-packages,target=/p --entrypoint ls pypiserver/pypiserver:"
        + site.config["imageTag"]
        + " /p"
    )
    return listing.stdout.split()


def test_3_systemd_restart_and_a_killed_process_come_back(site, wheel):
    site.host.ssh("sudo -n systemctl restart pypiserver")
    site.wait_healthy(timeout=60)
    pid = site.host.ssh("docker inspect --format '{{.State.Pid}}' pypiserver").stdout.strip()
    killed = time.monotonic()
    site.host.ssh(f"sudo -n kill -9 {pid}")

    def restarted() -> bool:
        now = site.host.ssh("docker inspect --format '{{.State.Pid}}' pypiserver", check=False).stdout.strip()
        return now not in ("", "0", pid)

    wait_until("systemd to start the killed container again", restarted, 60, 0.2)
    site.wait_healthy(timeout=60)
    figure(f"killed container process: healthy again after {time.monotonic() - killed:.1f} s")
    assert wheel.name in index_rules(site)
    assert site.get(f"/packages/{wheel.name}", "ci", USERS["ci"]).status == 200


def test_4_host_reboot_brings_the_index_back_by_itself(site, wheel):
    site.host.restart()
    took = site.wait_healthy(timeout=120)
    figure(f"host restart: index healthy {took:.1f} s after the host was ready")
    assert site.host.ssh("systemctl is-active pypiserver").stdout.strip() == "active"
    assert site.get(f"/packages/{wheel.name}", "ci", USERS["ci"]).status == 200


@contextmanager
def traffic(site: Site, tmp_path: Path) -> Iterator[dict]:
    """Uploads, pages and /health requests, back to back in three threads, for as long as the block
    runs: how many, how many failed (anything but 200, or no answer), and the longest any took."""
    totals: dict[str, Any] = {
        "requests": 0,
        "failed": 0,
        "longest": 0.0,
        "errors": [],
        "uploads": {},
    }
    stop = threading.Event()
    lock = threading.Lock()

    def record(started: float, ok: bool, what: str) -> None:
        with lock:
            totals["requests"] += 1
            totals["longest"] = max(totals["longest"], time.monotonic() - started)
            if not ok:
                totals["failed"] += 1
                totals["errors"].append(what)

    def pages(path: str) -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                status = site.get(path, "ci", USERS["ci"], timeout=60).status
            except OSError as error:
                status, path = 0, f"{path}: {error}"
            record(started, status == 200, f"GET {path} -> {status}")
            time.sleep(0.05)

    def uploads() -> None:
        number = 0
        while not stop.is_set():
            number += 1
            wheel = make_wheel(tmp_path, "during-upgrade", f"0.0.{number}")
            totals["uploads"][wheel.name] = hashlib.sha256(wheel.read_bytes()).hexdigest()
            started = time.monotonic()
            try:
                status = upload(f"{site.url}/", wheel, "ci", USERS["ci"], timeout=60, ca=site.ca).status
            except OSError as error:
                status = 0
                wheel = Path(f"{wheel.name}: {error}")
            record(started, status == 200, f"upload {wheel.name} -> {status}")

    threads = [
        threading.Thread(target=f, args=a, daemon=True)
        for f, a in ((pages, ("/simple/",)), (pages, ("/health",)), (uploads, ()))
    ]
    for thread in threads:
        thread.start()
    try:
        yield totals
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=90)


def test_5_replacing_update_holds_every_request_and_keeps_packages(site, wheel, tmp_path):
    old = site.host.ssh("docker inspect --format '{{.Id}}' pypiserver").stdout.strip()
    # Pages and files come from the front server; /health and uploads go through to pypiserver, which
    # the provider deletes before it creates its replacement: the front server holds them meanwhile.
    with traffic(site, tmp_path) as seen:
        time.sleep(1)
        site.deploy(imageTag=UPGRADE_TO, allowOverwrite="true")
        time.sleep(1)
    figure(
        f"UPGRADE requests {seen['requests']}, failed {seen['failed']}, longest wait {seen['longest']:.2f} s "
        f"({UPGRADE_FROM} -> {UPGRADE_TO} + new args, {site.host.suite} host; uploads, pages and /health throughout)"
    )
    # Nothing fails, uploads included: one in flight when the old pypiserver stops is drained (gunicorn's
    # graceful stop; the provider stops it with destroy_grace_seconds), one the old listener queued
    # unread is sent again by the front server (routes.UPLOAD_BUFFER), and the rest wait for the new one.
    assert seen["failed"] == 0, seen["errors"]
    stored = stored_hashes(site, "during_upgrade-")
    for name, digest in stored.items():
        assert seen["uploads"].get(name) == digest, f"{name}: the store keeps a file that differs from the upload"
    new = site.host.ssh("docker inspect --format '{{.Id}} {{.Config.Image}}' pypiserver").stdout.split()
    assert new[0] != old, "a new image and new arguments replace the container"
    command = site.host.ssh("docker inspect --format '{{json .Args}}' pypiserver").stdout
    assert "--overwrite" in command
    version = site.host.ssh("docker exec pypiserver pypi-server --version").stdout.strip()
    assert version.endswith("2.4.1"), version
    assert wheel.name in index_rules(site)
    assert site.get(f"/packages/{wheel.name}", "ci", USERS["ci"]).status == 200
    assert site.host.ssh("systemctl is-active pypiserver").stdout.strip() == "active"


def test_5_a_new_image_that_cannot_start_changes_nothing_and_says_why(site, tmp_path):
    running = site.host.ssh("docker inspect --format '{{.Id}}' pypiserver").stdout.strip()
    assert site.host.images is not None
    site.host.load_images(site.host.images.pypiserver_broken)
    working = site.config["imageTag"]
    site.configure(imageTag="v2.4.2")
    said = expect_failure(site.stack.up)
    assert re.search(r"pypi-canary[\s\S]*did not answer healthy[\s\S]*this release cannot start", said), said[-3000:]
    assert site.host.ssh("docker inspect --format '{{.Id}}' pypiserver").stdout.strip() == running, "untouched"
    assert "pypiserver-canary" not in site.host.ssh("docker ps -a --format '{{.Names}}'").stdout
    # The running index still serves downloads and takes uploads.
    wheel = make_wheel(tmp_path, "after-a-failed-upgrade", "1.0.0")
    assert upload(f"{site.url}/", wheel, "ci", USERS["ci"], ca=site.ca).status == 200
    assert site.get(f"/packages/{wheel.name}", "ci", USERS["ci"]).status == 200
    # Going back is one more `up`, and it leaves every container as it ran. (Its preview shows the
    # containers as replaced: the state holds the failed release's image, so the image is replaced, and
    # its ID is unknown until `up` reads it; then it is the running one and no container changes.)
    site.configure(imageTag=working)
    planned = {(s.name, s.op) for s in site.stack.planned_steps()}
    assert ("pypi-image", "replace") in planned and ("pypi-container", "replace") in planned, planned
    containers = container_ids(site)
    site.stack.up()
    assert container_ids(site) == containers, "no container is replaced by going back"
    assert site.host.ssh("docker inspect --format '{{.Id}}' pypiserver").stdout.strip() == running


def stored_hashes(site: Site, prefix: str) -> dict[str, str]:
    """sha256 of every file in the package volume whose name starts with `prefix`."""
    listing = site.host.ssh(
        "docker run --rm --mount type=volume,source=pypiserver-packages,target=/p,readonly --entrypoint sh "
        f"pypiserver/pypiserver:{site.config['imageTag']} -c 'cd /p && sha256sum {prefix}* 2>/dev/null || true'"
    ).stdout
    return {name: digest for digest, name in (line.split() for line in listing.splitlines() if line.strip())}


def container_ids(site: Site) -> list[str]:
    return site.host.ssh("docker inspect --format '{{.Id}}' " + " ".join(UNITS)).stdout.split()


def test_6_add_rotate_remove_users_without_downtime(site):
    containers = container_ids(site)
    users = {"ci": USERS["ci"], "bob": "bob-password-5e7c2a9d", "alice": "alice-rotated-8c1d3b7e"}
    # The front server's reload can drop a request that reaches its old server as it stops (closed
    # unanswered, or reset: components/front/scripts.py); pip sends it again, and so does this poll.
    with unavailability(site, "ci", USERS["ci"], retry_dropped=True) as down:
        site.deploy(users=users)
        time.sleep(0.5)
    figure(f"users change (adding bob, rotating alice): {down['polls']} polls, {down['retried']} retried once")
    assert down["polls"] >= 10 and down["failed"] == 0, f"every request answered while users changed: {down}"
    assert site.get("/simple/", "bob", users["bob"]).status == 200
    assert site.get("/simple/", "alice", users["alice"]).status == 200
    assert site.get("/simple/", "alice", USERS["alice"]).status in (401, 403), "the old password"
    with unavailability(site, "ci", USERS["ci"], retry_dropped=True) as down:
        site.deploy(users={"ci": USERS["ci"], "alice": users["alice"]})
        time.sleep(0.5)
    figure(f"users change (removing bob): {down['polls']} polls, {down['retried']} retried once")
    assert down["polls"] >= 10 and down["failed"] == 0, f"every request answered while users changed: {down}"
    assert site.get("/simple/", "bob", users["bob"]).status in (401, 403)
    assert container_ids(site) == containers, "no restart: pypiserver re-reads its file, Caddy reloads"
    mode = site.host.ssh(
        "docker run --rm --user 0 --mount type=volume,source=pypiserver-auth,target=/a --entrypoint stat "
        f"pypiserver/pypiserver:{site.config['imageTag']} -c '%u %a' /a/.htpasswd"
    ).stdout.split()
    assert mode == ["9898", "600"], mode


def test_6_the_same_host_under_another_name_changes_no_container(site):
    containers = container_ids(site)
    site.configure(sshHost="localhost")
    steps = site.stack.planned_steps()
    assert {s.op for s in steps} == {"update"}, steps
    assert {s.type for s in steps} <= {REMOTE_COMMAND, DOCKER_PROVIDER}, f"only connections change: {steps}"
    assert "host-guard" in {s.name for s in steps}
    # A new connection runs every shell step again, the backup repository's among them, which runs
    # restic: here while the timer's backup is running (its container, held open), as at the top of
    # an hour in CI, where the two once shared a container name and the deploy failed.
    image = site.stack.resource("pypi-backup-image")["inputs"]["name"]
    site.host.ssh(f"docker run -d --rm --name pypiserver-backup --entrypoint sleep {image} 300")
    try:
        site.stack.up()  # the guard runs its check on the new connection, and passes
    finally:
        site.host.ssh("docker rm -f pypiserver-backup", check=False)
    assert container_ids(site) == containers
    site.deploy(sshHost="127.0.0.1")
    assert container_ids(site) == containers


def test_6_a_new_sshHost_on_another_machine_is_refused_before_anything_changes(site, host_images):
    containers, before = container_ids(site), host_state(site.host)
    with TestHost(host_images, suite="bookworm", load_standins=False) as other:
        other.authorize(site.host.public_key)  # the same deploy key, as an operator would set it up
        site.configure(sshPort=str(other.ssh_port), sshHostKey=other.host_public_key)
        said = expect_failure(site.stack.up)
        assert "host-guard" in said and "does not run stack pypi-index/production" in said, said[-3000:]
        assert host_state(other)["claimed"] == "" and host_state(other)["containers"] == []
    assert container_ids(site) == containers and host_state(site.host) == before
    # The state still describes the first host, and with its address back nothing changes.
    site.configure(sshPort=str(site.host.ssh_port), sshHostKey=site.host.host_public_key)
    changes = site.stack.preview_changes()
    assert set(changes) <= {"same"}, changes


def pages_as_clients_see_them(site: Site) -> dict[str, str]:
    """Every file the JSON pages list (root page, then each project's) -> the sha256 they give for it."""

    def json_page(path: str) -> dict:
        reply = http_get(
            f"{site.url}{path}", "ci", USERS["ci"], ca=site.ca, accept="application/vnd.pypi.simple.v1+json"
        )
        assert reply.status == 200, (path, reply.status)
        return json.loads(reply.body)

    listed = {}
    for project in json_page("/simple/")["projects"]:
        for entry in json_page(f"/simple/{project['name']}/")["files"]:
            listed[entry["filename"]] = entry["hashes"]["sha256"]
    return listed


def test_6_the_pages_are_the_store_after_changes_made_while_the_indexer_was_down(site, tmp_path):
    by_hand = make_wheel(tmp_path, "removed-by-hand", "1.0")
    assert upload(f"{site.url}/", by_hand, "ci", USERS["ci"], ca=site.ca).status == 200
    wait_until("the indexer to list it", lambda: by_hand.name in pages_as_clients_see_them(site), 20, 0.2)
    site.host.ssh("sudo -n systemctl stop pypiserver-indexer")
    try:
        while_down = make_wheel(tmp_path, "uploaded-while-down", "1.0")
        assert upload(f"{site.url}/", while_down, "ci", USERS["ci"], ca=site.ca).status == 200
        site.host.ssh(f"docker exec -u 0 pypiserver rm /data/packages/{by_hand.name}")
        assert while_down.name not in pages_as_clients_see_them(site), "nobody indexes while the indexer is down"
    finally:
        site.host.ssh("sudo -n systemctl start pypiserver-indexer")
    wait_until(
        "the pages to equal the store",
        lambda: pages_as_clients_see_them(site) == {n: h for n, h in stored_hashes(site, "").items() if project_of(n)},
        60,
        0.5,
    )
    listed = pages_as_clients_see_them(site)
    assert while_down.name in listed and by_hand.name not in listed
    # Its project lost its last file while nobody indexed: its page goes too, not only the root's link.
    for accept in ("text/html", "application/vnd.pypi.simple.v1+json"):
        gone = http_get(f"{site.url}/simple/removed-by-hand/", "ci", USERS["ci"], ca=site.ca, accept=accept)
        assert gone.status == 404, (accept, gone.status, gone.body[:200])


def test_7_destroy_of_production_keeps_the_packages(site, wheel):
    assert site.host.exec("test -d /etc/pypi-index/backup", check=False).returncode == 0, "premise"
    # `pulumi destroy` as typed: it previews first, and the preview refuses the protected resources.
    refused = site.stack.cli("destroy", "--yes", check=False)
    assert refused.returncode != 0 and "protected" in refused.stdout + refused.stderr, refused.stdout[-3000:]
    assert set(UNITS) <= set(host_state(site.host)["containers"]), "a refused destroy deletes nothing"
    # What `make destroy STACK=production` runs once it is confirmed.
    site.stack.cli("destroy", "--yes", "--exclude-protected")
    state = host_state(site.host)
    assert not set(UNITS) & set(state["containers"]) and not state["units"], state
    assert site.host.ssh("systemctl is-enabled pypiserver", check=False).returncode != 0
    # The credentials leave the host (restic's password, the SFTP key, the repository's address); the
    # repository on the backup server is not the host's to delete.
    assert site.host.exec("test -e /etc/pypi-index/backup", check=False).returncode != 0, "credentials left behind"
    assert site.host.exec("ls /etc/systemd/system | grep -c pypiserver-backup", check=False).stdout.strip() == "0"
    assert {"pypiserver-packages", "pypiserver-front-data"} <= set(state["volumes"]), state
    anonymous = [v for v in state["volumes"] if len(v) == 64 and all(c in "0123456789abcdef" for c in v)]
    assert not anonymous, f"containers left anonymous volumes behind: {anonymous}"
    assert wheel.name in index_rules(site)
    assert state["claimed"] == "pypi-index/production", "the guard is kept: the protected volume depends on it"
    # The same stack comes back with its packages.
    site.deploy()
    assert site.get(f"/packages/{wheel.name}", "ci", USERS["ci"]).status == 200
    # Without the preview (the README says never), the engine deletes everything unprotected before it
    # refuses the protected volume: the index goes down, the packages stay.
    skipped = site.stack.cli("destroy", "--yes", "--skip-preview", check=False)
    assert skipped.returncode != 0 and "protected" in skipped.stdout + skipped.stderr, skipped.stdout[-3000:]
    assert not set(UNITS) & set(host_state(site.host)["containers"]), "--skip-preview deleted what was unprotected"
    assert wheel.name in index_rules(site)
    # Even unprotected, the volume is retained on delete.
    site.stack.unprotect_all()
    site.stack.cli("destroy", "--yes")
    assert wheel.name in index_rules(site)
    assert host_state(site.host)["claimed"] == "", "a destroyed stack no longer claims the host"
