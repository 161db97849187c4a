"""The README's set-up commands, run exactly as written in a fresh copy of the checkout: `make dev`, then
the CA, twine and pip lines, by bash, one by one. The placeholders the README documents are the only
substitutions: `dist/*` holds a wheel the test builds, `your-package` is its name, and `pip` is a fresh
virtualenv's (the user's own environment). `make dev` deploys the dev stack as written: on port 8443,
with the container names of `config/Pulumi.dev.yaml`, so a dev index already running on this machine
makes it fail (and says so); the test removes what it deployed."""

from __future__ import annotations

import os
import subprocess
import venv
from pathlib import Path

from tests.support import readme_commands
from tests.support.index_client import CA_OVERRIDES, make_wheel
from tests.support.recorded import ROOT

from .commands import figure


def checkout_copy(destination: Path) -> Path:
    """The checkout's tracked files, as a fresh clone has them (venv/ shared, to keep it quick)."""
    tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        source, target = ROOT / name, destination / name
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
            target.chmod(source.stat().st_mode)
    (destination / "venv").symlink_to(ROOT / "venv")
    return destination


def test_the_readme_set_up_commands_run_as_written(host_images, tmp_path):
    busy = subprocess.run(["docker", "inspect", "pypiserver"], capture_output=True).returncode == 0
    assert not busy, "a container named pypiserver runs here already (a dev index?): `make dev` would collide"
    work = checkout_copy(tmp_path / "checkout")
    wheel = make_wheel(work / "dist", "readme-tool", "1.0.0")
    users_env = tmp_path / "user-env"
    venv.create(users_env, with_pip=True)
    env = {k: v for k, v in os.environ.items() if k not in CA_OVERRIDES}  # as the README says to run them
    env["PATH"] = f"{users_env / 'bin'}{os.pathsep}{env['PATH']}"
    commands = [command for block in readme_commands.blocks("dev") for command in block]
    commands = [c.replace("your-package", "readme-tool") for c in commands]
    assert commands[0] == "make dev" and len(commands) == 4, commands
    dev_env = {
        **env,
        "PULUMI_BACKEND_URL": f"file://{work}/.pulumi-dev",
        "PULUMI_CONFIG_PASSPHRASE": "dev",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
    }
    try:
        outcomes = []
        for command in commands:
            outcomes.append(readme_commands.run(command, work, env))
            assert outcomes[-1].ok, f"{command} -> {outcomes[-1].status}:\n{outcomes[-1].output[-3000:]}"
        figure(f"README set-up commands: {len(outcomes)} run as written, 0 failed")
        assert (work / "pypi-index-ca.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")
        assert wheel.name in outcomes[2].output or "View at" in outcomes[2].output, outcomes[2].output[-2000:]
        imported = subprocess.run(
            [str(users_env / "bin" / "python"), "-c", "import readme_tool"], capture_output=True, text=True
        )
        assert imported.returncode == 0, imported.stderr
    finally:
        # Not a README command: the dev stack's state is the copy's, under make dev's own backend.
        subprocess.run(
            ["bash", "-c", "pulumi destroy --yes --stack dev && pulumi stack rm --yes --force dev"],
            cwd=work, env={**dev_env, "PATH": f"{readme_engine_path()}{env['PATH']}"}, capture_output=True, check=False,
        )  # fmt: skip


def readme_engine_path() -> str:
    """The PATH prefix that gives `pulumi` where the user has none (as the Makefile's ENGINE does)."""
    from tests.support.engine import engine_bin

    folder = engine_bin()
    return f"{folder}{os.pathsep}" if folder else ""
