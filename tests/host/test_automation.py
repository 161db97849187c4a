"""The same real-host scenarios through the real engine: Pulumi's Automation API (up, checks, destroy).

It needs the Pulumi CLI, its Python language host and the docker and command plugins at the versions
requirements.txt pins. The CLI builds from the Go module proxy on the machines this project is built
on, but the proxy refuses the language host and both plugins (README, "What is and is not tested
here"), so in CI it is SKIPPED, with the missing pieces named, and a skip here proves nothing: the
applier tests stand in for it, and the README says so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from index_client import http_get, make_wheel, twine_upload, wait_healthy
from recorded import ROOT

from .test_deploy import USERS, host_state, leave_empty, production_config


def pinned(package: str) -> str:
    """The version requirements.txt pins for `package` (pulumi-docker -> the docker plugin's)."""
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        name, _, version = line.split("#", 1)[0].strip().partition("==")
        if name == package:
            return version
    raise LookupError(f"requirements.txt pins no {package}")


def missing_engine() -> str:
    """What of the real engine this machine lacks ("" when nothing): the test runs only with all of it."""
    if shutil.which("pulumi") is None:
        return "no Pulumi CLI on PATH"
    missing = [] if shutil.which("pulumi-language-python") else ["the Python language host"]
    listed = subprocess.run(["pulumi", "plugin", "ls", "--json"], capture_output=True, text=True, timeout=60)
    have = {(p["name"], p["version"]) for p in json.loads(listed.stdout or "[]")} if listed.returncode == 0 else set()
    for plugin, package in (("docker", "pulumi-docker"), ("command", "pulumi-command")):
        if (plugin, pinned(package)) not in have:
            missing.append(f"the {plugin} plugin {pinned(package)}")
    return ", ".join(missing)


MISSING = missing_engine()
pytestmark = pytest.mark.skipif(
    bool(MISSING), reason=f"{MISSING}: the Automation API test cannot run here (it counts as nothing)"
)


def project_copy(destination: Path) -> Path:
    """The project in a scratch folder, so the test's stack config never touches config/."""
    destination.mkdir()
    for name in ("Pulumi.yaml", "__main__.py", "requirements.txt"):
        shutil.copy(ROOT / name, destination / name)
    shutil.copytree(ROOT / "components", destination / "components")
    (destination / "config").mkdir()
    venv = ROOT / "venv"
    if venv.exists():
        (destination / "venv").symlink_to(venv)
    return destination


@pytest.fixture
def engine_env(target_host, tmp_path: Path) -> Iterator[dict[str, str]]:
    """An SSH agent holding the host's key (the Docker provider dials through it, as the README tells
    users) and a local backend with a passphrase; the agent is stopped afterwards."""
    agent = subprocess.run(["ssh-agent", "-s"], capture_output=True, text=True, check=True).stdout
    env = dict(line.split(";", 1)[0].split("=", 1) for line in agent.splitlines() if "=" in line.split(";", 1)[0])
    try:
        subprocess.run(["ssh-add", str(target_host.private_key_path)], env={**os.environ, **env}, check=True)
        env.update({"PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}", "PULUMI_CONFIG_PASSPHRASE": "test"})
        (tmp_path / "state").mkdir()
        yield env
    finally:
        subprocess.run(["ssh-agent", "-k"], env={**os.environ, **env}, capture_output=True, check=False)


def configure(stack, config: dict) -> None:
    """Set the stack's config as a user would with `pulumi config set` (secrets as secrets)."""
    from pulumi import automation as auto

    config = dict(config)
    users = config.pop("users")
    for key, value in config.items():
        secret = key in ("backupPassword", "backupSshKey")
        if isinstance(value, list):
            # As a user sets a list (`pulumi config set --path 'authenticate[0]' update`): Pulumi checks
            # each declared key's type (Pulumi.yaml: array<string>), so JSON text in a string is refused.
            for index, item in enumerate(value):
                stack.set_config(f"{key}[{index}]", auto.ConfigValue(value=str(item), secret=secret), path=True)
        else:
            stack.set_config(key, auto.ConfigValue(value=str(value), secret=secret))
    for user, password in users.items():
        stack.set_config(f"users.{user}", auto.ConfigValue(value=password, secret=True), path=True)


def test_up_checks_destroy_with_the_real_engine(target_host, backup_server, engine_env, tmp_path):
    from pulumi import automation as auto

    env = engine_env
    work = project_copy(tmp_path / "project")
    stack = auto.create_or_select_stack(
        stack_name="production", work_dir=str(work), opts=auto.LocalWorkspaceOptions(env_vars=env)
    )
    configure(stack, production_config(target_host, backup_server.config("automation"), imageTag="v2.4.1"))
    try:
        # Pulumi runs 4 operations per CPU at once (`--parallel`, 8 on the 2 cores here): as on a
        # 16-core workstation, where each Docker resource opens its own SSH connection at once.
        result = stack.up(on_output=print, parallel=64)
        assert result.summary.result == "succeeded"
        url = f"https://127.0.0.1:{target_host.index_port}"
        ca = tmp_path / "ca.pem"
        ca.write_text(result.outputs["caCertificate"].value)
        wait_healthy(url, timeout=60, ca=ca)
        assert target_host.ssh("systemctl is-active pypiserver").stdout.strip() == "active"
        wheel = make_wheel(tmp_path, "auto-tool", "1.0.0")
        assert twine_upload(result.outputs["uploadUrl"].value, wheel, "ci", USERS["ci"], ca=ca).returncode == 0
        assert http_get(f"{url}/simple/", "ci", "wrong-password-123", ca=ca).status == 401
        changes = stack.preview(expect_no_changes=True).change_summary
        assert set(changes) <= {auto.OpType.SAME}, f"a second run changes nothing: {changes}"
    finally:
        stack.destroy(on_output=print, exclude_protected=True)
        auto.LocalWorkspace(work_dir=str(work), env_vars=env).remove_stack("production", force=True)
    state = host_state(target_host)
    assert "pypiserver" not in state["containers"] and not state["units"]
    assert "pypiserver-packages" in state["volumes"]
    leave_empty(target_host)  # the shared host, as the other modules expect it


# The last commit before components/ became one package per part (issue 16).
BEFORE_RESTRUCTURE = "faa45c1c14f245bef58bdc22fb93ce8bf6e9c077"
# Its program_files.SOURCES, as components/pypiserver/programs.py now builds it: every module of in_container/.
EVERY_PROGRAM = """SOURCES = {
    ("gunicorn.conf.py" if path.name == "gunicorn_conf.py" else path.name): path
    for path in sorted(Path(static_index.__file__).parent.glob("*.py"))
    if path.name != "__init__.py"
}
"""
# Its imports of facts that have since moved out of static_index.py, to their new owners (same values).
MOVED_IMPORTS = {
    "caddyfile.py": (
        "from .in_container.static_index import METADATA_DIR, PAUSED_FLAG\n",
        "from .in_container.disk_watch import PAUSED_FLAG\nfrom .in_container.static_index import METADATA_DIR\n",
    ),
    "package_index.py": (
        "from .in_container.static_index import DISK_REPORT, WRITER_MARK\n",
        "from .in_container.disk_watch import DISK_REPORT, WRITER_MARK\n",
    ),
}


def test_a_stack_deployed_before_the_restructure_updates_in_place(target_host, backup_server, engine_env, tmp_path):
    from pulumi import automation as auto

    env = engine_env
    old = tmp_path / "old"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old), BEFORE_RESTRUCTURE], check=True)
    (old / "venv").symlink_to(ROOT / "venv")
    # With this checkout's in-container programs: new program text replaces the containers by design
    # (their folder's name is its hash); what is checked here is the move of the program's own code.
    for program in (ROOT / "components" / "in_container").glob("*.py"):
        shutil.copy(program, old / "components" / "in_container" / program.name)
    # That commit delivered two named files; the programs are now several modules, all delivered.
    delivery = old / "components" / "program_files.py"
    text = delivery.read_text()
    start = text.index("SOURCES = {")
    end = text.index("}\n", start) + 2
    delivery.write_text(text[:start] + EVERY_PROGRAM + text[end:])
    for name, (was, now) in MOVED_IMPORTS.items():
        module = old / "components" / name
        text = module.read_text()
        assert was in text, f"{name} at {BEFORE_RESTRUCTURE[:7]} no longer imports: {was}"
        module.write_text(text.replace(was, now))
    options = auto.LocalWorkspaceOptions(env_vars=env)
    config = production_config(target_host, backup_server.config("restructure"), imageTag="v2.4.1")
    try:
        before = auto.create_or_select_stack(stack_name="production", work_dir=str(old), opts=options)
        configure(before, config)
        assert before.up(on_output=print, parallel=64).summary.result == "succeeded"
        # The same stack (same backend), now from this checkout's code.
        work = project_copy(tmp_path / "project")
        shutil.copy(old / "config" / "Pulumi.production.yaml", work / "config" / "Pulumi.production.yaml")
        after = auto.select_stack(stack_name="production", work_dir=str(work), opts=options)
        planned = after.preview(on_output=print).change_summary
        replaced = {op: n for op, n in planned.items() if op not in (auto.OpType.SAME, auto.OpType.UPDATE)}
        # Besides the users' salt key, new since (issue 22): the hashes it changes update in place.
        assert replaced == {auto.OpType.CREATE: 1}, f"the restructure must only update in place: {planned}"
        assert after.up(on_output=print, parallel=64).summary.result == "succeeded"
        ca = tmp_path / "ca.pem"
        ca.write_text(after.outputs()["caCertificate"].value)
        wait_healthy(f"https://127.0.0.1:{target_host.index_port}", timeout=60, ca=ca)
        changes = after.preview(expect_no_changes=True).change_summary
        assert set(changes) <= {auto.OpType.SAME}, f"a second run changes nothing: {changes}"
    finally:
        stack = auto.select_stack(stack_name="production", work_dir=str(old), opts=options)
        stack.destroy(on_output=print, exclude_protected=True)
        stack.workspace.remove_stack("production", force=True)
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], check=False)
    leave_empty(target_host)
