"""The policy pack as CI runs it: `pulumi preview --policy-pack policy --policy-pack-config ...` by the real
engine, with the pack in its own environment (policy/venv, made by `make policy/venv`), on a production
stack as the pull-request workflow previews it: no SSH key, no SSH agent, and a host that must not be
dialled (a listener on loopback stands in for its sshd and counts every connection)."""

from __future__ import annotations

import re
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pulumi import automation as auto

from tests.support.deployments import BACKUP_OVERRIDES, PASSWORDS
from tests.support.engine import RealStack, failure_text, project_copy
from tests.support.policy_pack import PINNED, POLICY_DIR
from tests.support.recorded import ROOT, stack_config
from tests.support.stack_values import HOST_KEY


@pytest.fixture(scope="module")
def policy_environment() -> Path:
    """The pack's own virtualenv, as `make preview` makes it."""
    subprocess.run(["make", "-s", "policy/venv"], cwd=ROOT, check=True, capture_output=True, timeout=600)
    return POLICY_DIR


class CountingListener:
    """A TCP listener on 127.0.0.1 that accepts and counts connections (and closes them at once)."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.accepted = 0
        self.socket.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                connection, _ = self.socket.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            connection.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.socket.close()


@pytest.fixture
def unreachable_sshd() -> Iterator[CountingListener]:
    listener = CountingListener()
    try:
        yield listener
    finally:
        listener.close()


def pull_request_stack(tmp_path: Path, sshd: CountingListener, **changes) -> RealStack:
    """Production as the workflow previews it: no SSH_AUTH_SOCK, no sshPrivateKey."""
    stack = RealStack(
        project_copy(tmp_path / "project"), "production", tmp_path / "state", "no host: preview only",
        without_env=("SSH_AUTH_SOCK",),
    )  # fmt: skip
    config = {
        **stack_config("production"),
        **BACKUP_OVERRIDES,
        "sshHost": "127.0.0.1",
        "sshPort": str(sshd.port),
        "sshHostKey": HOST_KEY,
        "users": dict(PASSWORDS),
        **changes,
    }
    stack.configure(config)
    return stack


def preview(stack: RealStack, config_file: str | None) -> auto.PreviewResult:
    configs = [str(POLICY_DIR / config_file)] if config_file else []
    return stack.stack.preview(
        policy_packs=[str(POLICY_DIR)], policy_pack_configs=configs, on_output=stack._output, color="never"
    )


def test_the_pull_request_preview_shows_the_plan_and_dials_no_host(policy_environment, unreachable_sshd, tmp_path):
    stack = pull_request_stack(tmp_path, unreachable_sshd, **PINNED)
    result = preview(stack, "production.json")
    planned = result.change_summary
    assert planned.get(auto.OpType.CREATE, 0) >= 20, f"the plan creates the whole stack: {planned}"
    assert "mandatory" not in result.stdout, result.stdout[-3000:]
    # Only advice: the committed production config does not say who may publish what. (Nor when its
    # upload credentials expire, which upload-credentials-expire reads from the password file's step:
    # hashed with the salt key, a resource not created yet, it is unknown in a new stack's first
    # preview, and the stack rule skips it; tests/policy/test_publish_rules.py covers it.)
    advisories = set(re.findall(r"\[advisory\]\s+([a-z-]+)\s+\([\w:]+: ([\w-]+)\)", result.stdout))
    assert advisories == {("ownership-declared", "pypi-gunicorn-config")}, result.stdout[-3000:]
    assert unreachable_sshd.accepted == 0, "a preview connects to no host"


def test_production_without_digests_is_refused_by_the_engine(policy_environment, unreachable_sshd, tmp_path):
    stack = pull_request_stack(tmp_path, unreachable_sshd)
    with pytest.raises(auto.errors.CommandError) as refused:
        preview(stack, "production.json")
    said = failure_text(refused.value)
    # `- [mandatory]  image-pinned  (docker:index:RemoteImage: pypi-image)`, one per violation.
    mandatory = set(re.findall(r"\[mandatory\]\s+([a-z-]+)\s+\([\w:]+: ([\w-]+)\)", said))
    assert mandatory == {
        ("image-pinned", "pypi-image"),
        ("image-pinned", "pypi-front-image"),
        ("image-pinned", "pypi-backup-image"),
    }, said[-3000:]
    assert "pulumi config set" in said and "digest" in said
    assert unreachable_sshd.accepted == 0


def test_a_stack_without_backups_is_refused_under_the_production_config(policy_environment, unreachable_sshd, tmp_path):
    # The program itself requires backups in production; a staging stack without them, previewed with
    # production's policy config, shows the stack-wide rule as the engine enforces it.
    unbacked = RealStack(
        project_copy(tmp_path / "staging"), "staging", tmp_path / "state", "no host: preview only",
        without_env=("SSH_AUTH_SOCK",),
    )  # fmt: skip
    config = {**stack_config("staging"), "sshHost": "127.0.0.1", "sshPort": str(unreachable_sshd.port)}
    # backupImageDigest belongs to backups (the program refuses it without them).
    digests = {k: v for k, v in PINNED.items() if k != "backupImageDigest"}
    unbacked.configure({**config, "sshHostKey": HOST_KEY, "users": dict(PASSWORDS), **digests})
    with pytest.raises(auto.errors.CommandError) as refused:
        preview(unbacked, "production.json")
    said = failure_text(refused.value)
    assert re.search(r"\[mandatory\]\s+backups-scheduled", said), said[-3000:]
    assert unreachable_sshd.accepted == 0


def test_without_a_config_every_rule_is_advisory(policy_environment, tmp_path):
    stack = RealStack(project_copy(tmp_path / "project"), "dev", tmp_path / "state", "local docker")
    stack.configure(stack_config("dev"))
    result = preview(stack, None)
    advisories = set(re.findall(r"\[advisory\]\s+([a-z-]+)\s+\([\w:]+: ([\w-]+)\)", result.stdout))
    assert advisories == {
        ("auth-protects-all-actions", "pypi-container"),
        ("package-volume-protected", "pypi-packages"),
        ("ownership-declared", "pypi-gunicorn-config"),
    }, result.stdout[-3000:]
    assert "mandatory" not in result.stdout
    # retainOnDelete is not among what a policy is shown: dev's volume is reported as not protected.
    assert "not protected" in result.stdout
