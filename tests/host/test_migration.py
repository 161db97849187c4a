"""A stack deployed by an older commit of the program, then updated from this checkout: with the real
engine, the update changes nothing it must not (no replacement where a restructure only moved code),
and a preview right after shows no change. Two restructures: components/ as one package per part
(issue 16), then each part a component of its own, its resources aliased to their old parent (issue 23)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pulumi.automation import OpType

from tests.support.engine import RealStack, project_copy
from tests.support.recorded import ROOT

from .deploys import Site, SshAgent, destroyed, engine_label, production_config

# The last commit before the parts became components of their own (issue 23).
BEFORE_COMPONENTS = "eacf73577e2a7da91ebe88a8a4cb9ddf860c24ef"
# What an existing stack's first update from this checkout plans, by type, name and operation: the parts'
# components themselves, new logical resources that live in the state only (a component has no
# provider: nothing on the host changes). A feature added later lists here what it changes in an
# existing stack, and why.
CHANGED_SINCE_COMPONENTS = [
    ("pypiserver:index:Backup", "pypi-backup", "create"),
    ("pypiserver:index:Pypiserver", "pypi-server", "create"),
    ("pypiserver:index:Indexer", "pypi-static-pages", "create"),
    ("pypiserver:index:FrontServer", "pypi-front-server", "create"),
]
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


@contextmanager
def deployed_by(
    commit: str, target_host, backup_server, tmp_path: Path, adapt: Callable[[Path], None] = lambda old: None
) -> Iterator[RealStack]:
    """A production stack deployed by `commit` (its checkout changed by `adapt`), then opened from this
    checkout: the same stack and backend, ready to preview. Destroyed and forgotten afterwards."""
    old = tmp_path / "old"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old), commit], check=True)
    agent = SshAgent()
    try:
        # With this checkout's in-container programs: new program text replaces the containers by design
        # (their folder's name is its hash); what is checked here is the move of the program's own code.
        for program in (ROOT / "components" / "in_container").glob("*.py"):
            shutil.copy(program, old / "components" / "in_container" / program.name)
        adapt(old)
        agent.add(target_host.private_key_path)
        config = production_config(target_host, backup_server.config(commit[:7]), imageTag="v2.4.1")
        label = lambda: engine_label(target_host)  # noqa: E731
        before = RealStack(project_copy(tmp_path / "before", old), "production", tmp_path / "state", label, agent.env)
        before.configure(config)
        work = project_copy(tmp_path / "after")
        after = RealStack(work, "production", tmp_path / "state", label, agent.env)
        with destroyed(Site(target_host, after, config)):
            before.up(check_no_changes=False)
            shutil.copy(
                before.work_dir / "config" / "Pulumi.production.yaml", work / "config" / "Pulumi.production.yaml"
            )
            yield after
    finally:
        agent.close()
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], check=False)


def _as_before_the_restructure(old: Path) -> None:
    """That commit delivered two named files; the programs are now several modules, all delivered."""
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


def test_a_stack_deployed_before_the_restructure_updates_in_place(target_host, backup_server, tmp_path):
    with deployed_by(BEFORE_RESTRUCTURE, target_host, backup_server, tmp_path, _as_before_the_restructure) as after:
        planned = after.planned_steps()
        # Besides the users' salt key, new since (issue 22), which is created: the hashes it changes
        # update in place.
        others = [(s.name, s.op) for s in planned if s.op not in ("same", "update")]
        assert others == [("users-salt-key", "create")], f"the restructure must only update in place: {planned}"
        after.up()


def test_a_stack_deployed_before_the_components_previews_no_change(target_host, backup_server, tmp_path):
    """Every resource keeps its identity: the parts' resources are found by their aliases (Scope.part),
    so this checkout's preview of a stack the earlier program deployed plans only the components
    themselves; once they are in the state, `up` (and the preview after it) changes nothing."""
    with deployed_by(BEFORE_COMPONENTS, target_host, backup_server, tmp_path) as after:
        # Sorted: the engine plans in parallel, so the order of independent steps varies.
        planned = sorted((s.type, s.name, s.op) for s in after.planned_steps())
        assert planned == sorted(CHANGED_SINCE_COMPONENTS), f"a stack from {BEFORE_COMPONENTS[:7]}: {planned}"
        changes = after.up().summary.resource_changes or {}
        assert set(changes) <= {OpType.CREATE, OpType.SAME}, changes
        assert changes.get(OpType.CREATE) == len(planned), changes
