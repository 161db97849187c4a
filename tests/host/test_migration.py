"""A stack deployed by an older commit of the program, then updated from this checkout with the real
engine: every resource keeps its identity (none is deleted under one URN and created under another,
which is how a restructure without aliases would show), what is new is created, and a preview right
after the update shows no change. Two restructures: components/ as one package per part (issue 16),
then each part a component of its own, its resources aliased to their old parent (issue 23).

The older commit deploys with its own code, in-container programs included: what the program does
differently since (new program text, which replaces the containers by design; new arguments or
files) updates or replaces resources in place, under the same URN, and is not what is checked here."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.engine import RealStack, Step, project_copy
from tests.support.recorded import ROOT

from .deploys import Site, SshAgent, destroyed, engine_label, production_config

# The last commit before components/ became one package per part (issue 16).
BEFORE_RESTRUCTURE = "faa45c1c14f245bef58bdc22fb93ce8bf6e9c077"
# The last commit before the parts became components of their own (issue 23).
BEFORE_COMPONENTS = "eacf73577e2a7da91ebe88a8a4cb9ddf860c24ef"
# The parts' components: logical resources that live in the state only (a component has no provider:
# nothing on the host changes), created by an existing stack's first update from this checkout.
COMPONENTS = {
    ("pypiserver:index:Backup", "pypi-backup"),
    ("pypiserver:index:Pypiserver", "pypi-server"),
    ("pypiserver:index:Indexer", "pypi-static-pages"),
    ("pypiserver:index:FrontServer", "pypi-front-server"),
}
SALT_KEY = ("command:local:Command", "users-salt-key")  # new since issue 22


@contextmanager
def deployed_by(commit: str, target_host, backup_server, tmp_path: Path) -> Iterator[RealStack]:
    """A production stack deployed by `commit`, then opened from this checkout: the same stack and
    backend, ready to preview. Destroyed and forgotten afterwards."""
    old = tmp_path / "old"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old), commit], check=True)
    agent = SshAgent()
    try:
        agent.add(target_host.private_key_path)
        config = production_config(target_host, backup_server.config(commit[:7]), imageTag="v2.4.1")
        label = lambda: engine_label(target_host)  # noqa: E731
        before = RealStack(project_copy(tmp_path / "before", old), "production", tmp_path / "state", label, agent.env)
        before.configure(config)
        work = project_copy(tmp_path / "after")
        after = RealStack(work, "production", tmp_path / "state", label, agent.env)
        with destroyed(Site(target_host, after, config)):
            before.up(check_no_changes=False)
            (work / "config" / "Pulumi.production.yaml").write_bytes(
                (before.work_dir / "config" / "Pulumi.production.yaml").read_bytes()
            )
            yield after
    finally:
        agent.close()
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], check=False)


def identity_lost(planned: list[Step]) -> list[tuple[str, str]]:
    """Resources the plan deletes and creates again (same type and name, so a new URN for an old one)."""
    created = {(s.type, s.name) for s in planned if s.op == "create"}
    deleted = {(s.type, s.name) for s in planned if s.op == "delete"}
    return sorted(created & deleted)


def check_update_from(commit: str, new: set[tuple[str, str]], target_host, backup_server, tmp_path: Path) -> None:
    with deployed_by(commit, target_host, backup_server, tmp_path) as after:
        planned = after.planned_steps()
        assert not identity_lost(planned), f"recreated under a new URN: {identity_lost(planned)}; plan: {planned}"
        created = {(s.type, s.name) for s in planned if s.op == "create"}
        assert new <= created, f"expected created: {sorted(new - created)}; plan: {planned}"
        after.up()  # and then a preview that must show no change


def test_a_stack_deployed_before_the_restructure_updates_in_place(target_host, backup_server, tmp_path):
    check_update_from(BEFORE_RESTRUCTURE, {SALT_KEY, *COMPONENTS}, target_host, backup_server, tmp_path)


def test_a_stack_deployed_before_the_components_keeps_every_resource(target_host, backup_server, tmp_path):
    """The parts' resources are found by their aliases (Scope.part): nothing of the old stack is
    created anew, only the components themselves are added."""
    check_update_from(BEFORE_COMPONENTS, COMPONENTS, target_host, backup_server, tmp_path)
