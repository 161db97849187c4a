"""The systemd units that keep the containers running, as systemd itself reads them."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from components.supervision import scripts as supervision_scripts
from components.supervision.systemd_unit import render_unit


@pytest.mark.parametrize("role", ["package index (pypiserver)", "front server (TLS, authentication)"])
def test_unit_passes_systemd_analyze_verify(tmp_path, role):
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is needed (Debian package systemd; .ci/run installs it)"
    path = tmp_path / "pypiserver.service"
    path.write_text(render_unit("pypiserver", role))
    result = subprocess.run([analyze, "verify", str(path)], capture_output=True, text=True)
    # verify only warns (exit 0) on unknown keys: any output at all is a defect.
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result.stdout + result.stderr


def test_unit_makes_systemd_the_only_supervisor():
    unit = render_unit("pypiserver-front", "front server")
    assert "ExecStart=/usr/bin/docker start --attach pypiserver-front\n" in unit
    assert "Restart=always" in unit and "StartLimitIntervalSec=0" in unit
    assert "Requires=docker.service" in unit and "WantedBy=multi-user.target" in unit


def test_install_script_embeds_each_unit_verbatim():
    units = {"pypiserver": render_unit("pypiserver", "a"), "pypiserver-front": render_unit("pypiserver-front", "b")}
    script = supervision_scripts.install_units(units)
    embedded = [part.split("UNIT\n", 1)[0] for part in script.split("<<'UNIT'\n")[1:]]
    assert embedded == list(units.values())
