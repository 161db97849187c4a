"""A stack deployed by an older commit of the program, then updated from this checkout: with the real
engine, the update changes nothing it must not (no replacement where the restructure only moved code),
and a preview right after shows no change."""

from __future__ import annotations

import shutil
import subprocess

from engine import RealStack, project_copy
from recorded import ROOT

from .deploys import Site, SshAgent, destroyed, engine_label, production_config

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


def test_a_stack_deployed_before_the_restructure_updates_in_place(target_host, backup_server, tmp_path):
    old = tmp_path / "old"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old), BEFORE_RESTRUCTURE], check=True)
    try:
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
        agent = SshAgent()
        agent.add(target_host.private_key_path)
        config = production_config(target_host, backup_server.config("restructure"), imageTag="v2.4.1")
        label = lambda: engine_label(target_host)  # noqa: E731
        before = RealStack(project_copy(tmp_path / "before", old), "production", tmp_path / "state", label, agent.env)
        before.configure(config)
        try:
            before.up(check_no_changes=False)
            # The same stack (same backend), now from this checkout's code.
            work = project_copy(tmp_path / "after")
            shutil.copy(
                before.work_dir / "config" / "Pulumi.production.yaml", work / "config" / "Pulumi.production.yaml"
            )
            after = RealStack(work, "production", tmp_path / "state", label, agent.env)
            planned = after.planned_steps()
            # Besides the users' salt key, new since (issue 22), which is created: the hashes it changes
            # update in place.
            others = [(s.name, s.op) for s in planned if s.op not in ("same", "update")]
            assert others == [("users-salt-key", "create")], f"the restructure must only update in place: {planned}"
            with destroyed(Site(target_host, after, config)):
                after.up()
        finally:
            agent.close()
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], check=False)
