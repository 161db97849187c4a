"""The real engine: the Pulumi CLI with its Python language host and the docker and command plugins,
driven through Pulumi's Automation API exactly as a user's `pulumi up` runs them.

Where the CLI comes from: `pulumi` on PATH if there is one (a user's own install, which downloads the
pinned plugins itself), otherwise the toolchain `tools/build-engine` builds from the release sources
and caches (a second call takes seconds). A test that needs the engine and has none fails with the
reason; nothing falls back to a model of Pulumi.

Every `up` is followed by a preview that must show no change (`--expect-no-changes`), and leaves one
figure: `REAL up <stack> <engine> <n> resources <s> s, then preview: 0 changes`.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pulumi import automation as auto

from tests.host.commands import figure, log
from tests.support.recorded import PROJECT, ROOT

# What a copy of the project needs to run: the program, its settings and its virtualenv.
PROGRAM_FILES = ("Pulumi.yaml", "__main__.py", "requirements.txt")
PROGRAM_DIRS = ("components",)
# Operations a preview may report for a stack that has nothing to do.
NOTHING_TO_DO = {auto.OpType.SAME}


@dataclass(frozen=True)
class Step:
    """One planned step: the resource's type and name (from its URN) and the operation."""

    type: str
    name: str
    op: str

    @classmethod
    def of(cls, urn: str, op: auto.OpType) -> Step:
        # urn:pulumi:<stack>::<project>::<parent types$>type::name
        types, name = urn.split("::")[2:4]
        return cls(types.rsplit("$", 1)[-1], name, str(op.value))


class EngineUnavailable(RuntimeError):
    """No engine can be had here; the message says what is missing and how to get it."""


@functools.cache
def engine_bin() -> str:
    """The folder holding `pulumi` and its language host, or "" when the user's own is on PATH."""
    if shutil.which("pulumi") and shutil.which("pulumi-language-python"):
        return ""
    build = ROOT / "tools" / "build-engine"
    proc = subprocess.run([str(build)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise EngineUnavailable(f"no `pulumi` on PATH and `{build}` failed:\n{proc.stderr[-3000:]}")
    return proc.stdout.strip().splitlines()[-1]


def engine_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment every engine command runs in: the CLI first on PATH, offline, no update check."""
    env = dict(os.environ)
    folder = engine_bin()
    if folder:
        env["PATH"] = f"{folder}{os.pathsep}{env.get('PATH', os.defpath)}"
    env["PULUMI_SKIP_UPDATE_CHECK"] = "true"
    # The Docker provider lets DOCKER_CONTEXT override its host (the program refuses it): never inherit it.
    env.pop("DOCKER_CONTEXT", None)
    env.update(extra or {})
    return env


def project_copy(destination: Path, source: Path = ROOT) -> Path:
    """The program in a scratch folder (its own config/), sharing the checkout's virtualenv."""
    destination.mkdir(parents=True)
    for name in PROGRAM_FILES:
        shutil.copy(source / name, destination / name)
    for name in PROGRAM_DIRS:
        shutil.copytree(source / name, destination / name, ignore=shutil.ignore_patterns("__pycache__"))
    (destination / "config").mkdir()
    (destination / "venv").symlink_to(ROOT / "venv")
    return destination


def _secret_keys() -> tuple[str, ...]:
    from components.settings import SECRET_KEYS

    return tuple(SECRET_KEYS)


@dataclass
class RealStack:
    """One stack of the program in `work_dir`, its state in a local backend, its secrets under a
    passphrase: what `pulumi login file://...` and `PULUMI_CONFIG_PASSPHRASE` give a user."""

    work_dir: Path
    name: str
    state_dir: Path
    engine_label: str | Callable[[], str] = "local"
    """Which Docker engine the stack deploys onto, for the REAL figure (e.g. `bookworm docker 20.10.24`);
    a callable is asked after each `up` (a bare host has its engine only once the bootstrap ran)."""
    extra_env: dict[str, str] = field(default_factory=dict)
    without_env: tuple[str, ...] = ()
    """Variables of this process's environment the engine must not see (e.g. SSH_AUTH_SOCK)."""
    parallel: int | None = None
    log_file: Path | None = None

    def __post_init__(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.env = engine_env(
            {
                "PULUMI_BACKEND_URL": f"file://{self.state_dir}",
                "PULUMI_CONFIG_PASSPHRASE": "test-passphrase",
                **self.extra_env,
            }
        )
        for name in self.without_env:
            self.env.pop(name, None)
        options = auto.LocalWorkspaceOptions(work_dir=str(self.work_dir), env_vars=self.env)
        self.stack = auto.create_or_select_stack(stack_name=self.name, work_dir=str(self.work_dir), opts=options)
        self.log_file = self.log_file or self.work_dir / f"engine-{self.name}.log"

    # ------------------------------------------------------------------------------------ config
    def configure(self, config: Mapping[str, Any]) -> None:
        """Make the stack's config exactly `config` (keys without the project prefix), as a user's
        `pulumi config set` would: plain values in the stack file, the secret keys encrypted."""
        secret_keys = _secret_keys()
        path = self.work_dir / "config" / f"Pulumi.{self.name}.yaml"
        settings = yaml.safe_load(path.read_text()) if path.exists() else {}
        settings = settings or {}
        settings["config"] = {f"{PROJECT}:{k}": v for k, v in config.items() if k not in secret_keys}
        path.write_text(yaml.safe_dump(settings, sort_keys=True))
        secrets: dict[str, auto.ConfigValue] = {}
        for key in secret_keys:
            value = config.get(key)
            if isinstance(value, Mapping):
                for sub, item in value.items():
                    secrets[f"{key}.{sub}"] = auto.ConfigValue(value=str(item), secret=True)
            elif value is not None:
                secrets[key] = auto.ConfigValue(value=str(value), secret=True)
        if secrets:
            self.stack.set_all_config(secrets, path=True)

    # ------------------------------------------------------------------------------------ operations
    def _output(self, line: str) -> None:
        assert self.log_file is not None
        with self.log_file.open("a") as fh:
            fh.write(line if line.endswith("\n") else line + "\n")

    def up(self, check_no_changes: bool = True) -> auto.UpResult:
        """`pulumi up`, then (by default) `pulumi preview --expect-no-changes`."""
        log(f"engine: up {self.name}, log {self.log_file}")
        start = time.monotonic()
        result = self.stack.up(parallel=self.parallel, on_output=self._output, color="never")
        seconds = time.monotonic() - start
        resources = sum(result.summary.resource_changes.values()) if result.summary.resource_changes else 0
        label = self.engine_label() if callable(self.engine_label) else self.engine_label
        line = f"REAL up {self.name} {label} {resources} resources {seconds:.1f} s"
        if check_no_changes:
            changes = self.preview_changes(expect_no_changes=True)
            assert set(changes) <= NOTHING_TO_DO, f"a preview right after `up` must show no change: {changes}"
            line += ", then preview: 0 changes"
        figure(line)
        return result

    def preview_changes(self, expect_no_changes: bool = False) -> dict[auto.OpType, int]:
        """What `pulumi preview` plans: operation -> count (`same` for unchanged resources)."""
        result = self.stack.preview(
            parallel=self.parallel, expect_no_changes=expect_no_changes, on_output=self._output, color="never"
        )
        return dict(result.change_summary)

    def planned_steps(self) -> list[Step]:
        """Every step a preview plans other than `same`, in the engine's order."""
        steps: list[Step] = []

        def on_event(event: auto.events.EngineEvent) -> None:
            pre = event.resource_pre_event
            if pre is not None and pre.metadata.op != auto.OpType.SAME:
                steps.append(Step.of(pre.metadata.urn, pre.metadata.op))

        self.stack.preview(parallel=self.parallel, on_event=on_event, on_output=self._output, color="never")
        return steps

    def destroy(self, exclude_protected: bool = True) -> auto.DestroyResult:
        return self.stack.destroy(exclude_protected=exclude_protected, on_output=self._output, color="never")

    def outputs(self) -> dict[str, Any]:
        return {name: item.value for name, item in self.stack.outputs().items()}

    def resources(self) -> list[dict[str, Any]]:
        """The state's resources with secrets shown (`pulumi stack export --show-secrets`)."""
        return json.loads(self._cli("stack", "export", "--show-secrets"))["deployment"].get("resources", [])

    def resource(self, name: str) -> dict[str, Any]:
        """One resource of the state by its name, e.g. `pypi-ca`."""
        found = [r for r in self.resources() if r["urn"].rsplit("::", 1)[-1] == name]
        assert len(found) == 1, f"expected one resource named {name} in {self.name}'s state, found {len(found)}"
        return found[0]

    def unprotect_all(self) -> None:
        """`pulumi state unprotect --all`: what an operator runs before destroying everything."""
        self._cli("state", "unprotect", "--all", "--yes")

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """`pulumi ARGS --stack NAME` as a user types it in the project's folder (no Automation API:
        it adds `--skip-preview` to `up` and `destroy`, which changes what a refused destroy leaves)."""
        proc = subprocess.run(
            ["pulumi", *args, "--stack", self.name, "--color", "never"],
            cwd=self.work_dir, env=self.env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        self._output(f"$ pulumi {' '.join(args)}\n{proc.stdout}{proc.stderr}")
        if check and proc.returncode != 0:
            raise RuntimeError(
                f"pulumi {' '.join(args)} failed ({proc.returncode}):\n{(proc.stdout + proc.stderr)[-3000:]}"
            )
        return proc

    def _cli(self, *args: str) -> str:
        return self.cli(*args).stdout

    def remove(self) -> None:
        """Forget the stack (its state and config), as `pulumi stack rm --force`."""
        self.stack.workspace.remove_stack(self.name, force=True)


def failure_text(error: BaseException) -> str:
    """All an engine failure said (the CLI's stdout and stderr): what a user reads in the terminal."""
    return "\n".join(str(part) for part in (error, getattr(error, "stdout", ""), getattr(error, "stderr", "")) if part)


def expect_failure(operation: Callable[[], Any]) -> str:
    """Run an engine operation that must fail; return what it said."""
    try:
        operation()
    except auto.errors.CommandError as error:
        return failure_text(error)
    raise AssertionError("the engine operation succeeded, but it must fail")
