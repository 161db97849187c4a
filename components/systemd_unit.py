"""The systemd unit that supervises the index container on a remote host."""

from __future__ import annotations

UNIT_NAME = "pypiserver.service"
UNIT_PATH = f"/etc/systemd/system/{UNIT_NAME}"


def render_unit(container: str, docker: str = "/usr/bin/docker") -> str:
    """systemd owns the container's lifecycle; Docker's restart policy is `no` and defers.

    `docker start --attach` keeps a process in the unit for as long as the container runs, so
    systemd sees a crash, restarts it with back-off, orders it after docker.service at boot, and
    sends its logs to the journal. StartLimitIntervalSec=0: during a replacement by `pulumi up` the
    container is briefly absent, and systemd must keep retrying rather than give up after 5 tries.
    """
    return f"""\
[Unit]
Description=pypiserver package index (Docker container {container})
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
