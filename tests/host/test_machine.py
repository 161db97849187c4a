"""Proves the test host is a usable deployment target: systemd, key-only SSH with sudo, Docker
reachable over ssh://, the stand-in pypiserver image serving through the loopback port, and a
restart that keeps the inner engine's state.

Order matters: the restart test runs last (pytest keeps file order).
"""

from __future__ import annotations

import subprocess
import urllib.request

from .commands import wait_until


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as resp:  # loopback only
        return resp.read().decode()


def test_systemd_is_pid1_and_running(target_host):
    assert target_host.exec(["cat", "/proc/1/comm"]).stdout.strip() == "systemd"
    state = target_host.exec(["systemctl", "is-system-running"], check=False).stdout.strip()
    assert state in ("running", "degraded")
    for unit in ("ssh", "docker"):
        assert target_host.exec(["systemctl", "is-active", unit]).stdout.strip() == "active"


def test_deploy_has_passwordless_sudo_over_pinned_ssh(target_host):
    assert target_host.ssh("whoami").stdout.strip() == "deploy"
    assert target_host.ssh("sudo -n id -u").stdout.strip() == "0"
    # Keys only.
    sshd = target_host.exec(["sshd", "-T"]).stdout
    assert "passwordauthentication no" in sshd
    assert "kbdinteractiveauthentication no" in sshd
    # The pin is what lets us in: without the pinned known_hosts, strict checking refuses.
    refused = subprocess.run(
        [
            "ssh",
            "-F",
            "/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-i",
            str(target_host.private_key_path),
            "-p",
            str(target_host.ssh_port),
            "deploy@127.0.0.1",
            "true",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert refused.returncode != 0 and "Host key verification failed" in refused.stderr


def test_bootstrap_apt_install_docker_is_a_noop(target_host):
    # The program's bootstrap installs docker.io idempotently; on this host it is already there.
    out = target_host.ssh("sudo -n DEBIAN_FRONTEND=noninteractive apt-get install -y docker.io").stdout
    assert "docker.io is already the newest version" in out


def test_inner_engine_over_ssh_has_the_standin_images(target_host, host_images):
    info = target_host.docker("info", "--format", "{{.Driver}} {{.ServerVersion}}").stdout.split()
    assert info[0] == "overlay2"
    listed = target_host.docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    for image in host_images.standins:
        assert image in listed
    versions = {
        image: target_host.docker("run", "--rm", "--entrypoint", "pypi-server", image, "--version").stdout.strip()
        for image in (host_images.pypiserver, host_images.pypiserver_previous)
    }
    assert versions == {host_images.pypiserver: "2.4.1", host_images.pypiserver_previous: "2.4.0"}


def test_standin_answers_health_through_loopback(target_host, host_images):
    name = "health-probe"
    target_host.docker(
        "run",
        "--detach",
        "--name",
        name,
        "--security-opt",
        "no-new-privileges",
        "--publish",
        "8080:8080",
        host_images.pypiserver,
        "run",
        "-a",
        ".",
        "-P",
        ".",
        "/data/packages",
    )
    try:
        body = wait_until("GET /health", lambda: _get(target_host.url("/health")), 60, 0.5)
        assert body.strip() == "Ok"
        # The server (PID 1 after gosu) runs as the official image's user, who owns the volume.
        owners = target_host.docker("exec", name, "stat", "-c", "%u", "/proc/1", "/data/packages")
        assert owners.stdout.split() == ["9898", "9898"]
    finally:
        target_host.docker("rm", "--force", name, check=False)


def test_restart_keeps_inner_state(target_host, host_images):
    target_host.restart()
    assert target_host.exec(["cat", "/proc/1/comm"]).stdout.strip() == "systemd"
    assert target_host.ssh("sudo -n true").returncode == 0
    listed = target_host.docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert host_images.pypiserver in listed
