"""The systemd units that supervise the index's containers on a remote host, one unit per container."""

from __future__ import annotations

UNIT_DIR = "/etc/systemd/system"


def unit_name(container: str) -> str:
    return f"{container}.service"


def unit_path(container: str) -> str:
    return f"{UNIT_DIR}/{unit_name(container)}"


def render_unit(container: str, role: str, docker: str = "/usr/bin/docker") -> str:
    """systemd owns the container's lifecycle; Docker's restart policy is `no` and defers.

    `docker start --attach` keeps a process in the unit for as long as the container runs, so
    systemd sees a crash, restarts it with back-off, orders it after docker.service at boot, and
    sends its logs to the journal. StartLimitIntervalSec=0: during a replacement by `pulumi up` the
    container is briefly absent, and systemd must keep retrying rather than give up after 5 tries.
    """
    return f"""\
[Unit]
Description=pypi-index {role} (Docker container {container})
Documentation=https://github.com/pypiserver/pypiserver
Requires=docker.service
After=docker.service network-online.target
Wants=network-online.target
StartLimitIntervalSec=0

[Service]
Type=simple
ExecStart={docker} start --attach {container}
ExecStop={docker} stop --time 20 {container}
Restart=always
RestartSec=2
TimeoutStopSec=30

[Install]
WantedBy=multi-user.target
"""
