"""Apply what the program registered (under mocks) to a real machine, as `pulumi up` would.

`pulumi up` cannot run here (no CLI, no plugins), so this applier stands in for the engine and the
providers. It is a model, and only as true as its sources: every rule names the upstream file and
function it follows.
- The providers: tests/host/docker_provider.py (pulumi-docker 5.x = terraform-provider-docker v4.5.0,
  over the Engine API the way its Go client speaks it: tests/host/engine_api.py) and
  tests/host/command_provider.py (pulumi-command v1.2.1).
- The engine (pulumi/pulumi v3.259.0, `pkg/resource/deploy/`), here: the order of steps, what makes a
  replacement and in which order it happens, protect, retainOnDelete, destroy with and without a
  preview, `--exclude-protected`, and a provider whose configuration changes.

State is what the providers return (for Docker: read back from the daemon after create), and the
next `up` diffs against it, as the engine does without `--refresh`. `up(..., preview=True)` plans
without touching anything: values a step would produce are unknown, as in `pulumi preview`.

Not modelled (and failing loudly if the program starts to need them): refresh, import, parallel
steps, recovery from a half-applied update, ignoreChanges, a dependent of a delete-before-replace
resource that has a `delete` command, and every input the provider models do not know.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recorded import Deployment, Registration, fake_image_id

from .command_provider import LOCAL, REMOTE, CommandFailed, CommandRunner, command_diff, identity_ssh_options
from .commands import log
from .docker_provider import (
    SCHEMAS,
    UNKNOWN,
    Diff,
    DockerProvider,
    ProviderError,
    Unmapped,
    contains_unknown,
    diff,
)
from .engine_api import EngineClient, EngineError

COMPONENT_TYPES = {"pypiserver:index:PackageIndex"}
DOCKER_PROVIDER = "pulumi:providers:docker"
CONTAINER = "docker:index/container:Container"
COMMANDS = {REMOTE, LOCAL}
KNOWN_TYPES = {DOCKER_PROVIDER, *SCHEMAS, *COMMANDS}
COMMAND_INPUTS = {
    "connection", "create", "update", "delete", "stdin", "triggers", "logging", "addPreviousOutputInEnv",
    "environment",
}  # fmt: skip
# pulumi-docker provider/resources.go: only docker_container has `DeleteBeforeReplace: true`, and the
# bridge sends it only with a replacement the provider itself reports (pulumi-terraform-bridge
# pkg/tfbridge/provider.go, `Diff`).
PROVIDER_DELETES_BEFORE_REPLACE = {CONTAINER}

__all__ = ["Applier", "ApplyError", "Step", "Unmapped"]


class ApplyError(RuntimeError):
    """The deploy failed; the message carries what the engine or provider would have shown."""


@dataclass
class Applied:
    """One resource as the backend stores it."""

    urn: str
    type: str
    name: str
    inputs: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict)
    """What the provider stored: for Docker resources, read back from the daemon."""
    protect: bool = False
    retain_on_delete: bool = False
    provider: str = ""
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    parent: str = ""


@dataclass(frozen=True)
class Step:
    """What the engine did (or, in a preview, would do) for one resource."""

    name: str
    op: str  # same | create | update | replace | delete
    keys: tuple[str, ...] = ()
    delete_first: bool = False


def _provider_urn(reference: str) -> str:
    return reference.rsplit("::", 1)[0] if reference else ""


def _resolve(value: Any, resolved: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return resolved.get(value, value)
    if isinstance(value, list):
        return [_resolve(v, resolved) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, resolved) for k, v in value.items()}
    return value


class Applier:
    """Keeps the applied state of one stack between `up()` calls, as a Pulumi backend would."""

    def __init__(self, identity_file: Path, base_env: Mapping[str, str] | None = None):
        self.identity_file = identity_file
        self.base_env = dict(os.environ if base_env is None else base_env)
        self.state: dict[str, Applied] = {}
        self.order: list[str] = []
        self.workdir = Path(tempfile.mkdtemp(prefix="pypi-applier-"))
        self.commands = CommandRunner(identity_file, self.workdir, self.base_env)
        self.after_create: dict[str, Callable[[], None]] = {}
        """Resource name -> what the test does right after it is created (e.g. load images)."""

    # ================================================================== the engine
    def up(self, deployment: Deployment, preview: bool = False) -> list[Step]:
        """`pulumi up` (or, with `preview`, `pulumi preview`): steps in registration order, then deletes.

        The engine generates steps as resources register (pkg/resource/deploy/step_generator.go,
        `GenerateSteps`); a failure stops the update where it happened, with earlier steps done.
        """
        registrations = [r for r in deployment.registrations if r.type not in COMPONENT_TYPES]
        self._check_known(registrations)
        ordered = self._dependency_order(deployment, registrations)
        resolved: dict[str, Any] = {}  # the mocks' made-up outputs -> real (or unknown) values
        steps: list[Step] = []
        condemned: list[Applied] = []  # old halves of create-before-delete replacements
        for r in ordered:
            inputs = _resolve(r.plain, resolved)
            old = self.state.get(r.urn)
            step, applied, old_to_delete = self._step(r, old, inputs, preview)
            steps.append(step)
            if old_to_delete is not None:
                condemned.append(old_to_delete)
            if applied is not None and not preview:
                self.state[r.urn] = applied
            # In a preview, what a create or replacement would produce is unknown to its dependents.
            resolved.update(self._fake_to_real(r, applied if step.op in ("same", "update") or not preview else None))
            if not preview and step.op in ("create", "replace") and r.name in self.after_create:
                self.after_create[r.name]()
        wanted = {r.urn for r in ordered}
        # GenerateDeletes: the old halves of replacements, then what left the program, in reverse order.
        leaving = [self.state[u] for u in reversed(self.order) if u in self.state and u not in wanted]
        errors = self._delete_all([*condemned, *leaving], preview, replacing=len(condemned))
        if not preview:
            self.order = [r.urn for r in ordered]
        if errors:
            raise ApplyError("\n".join(errors))
        return steps

    def plan(self, deployment: Deployment) -> list[Step]:
        """`pulumi preview`: the steps an `up` would take, changing nothing."""
        return self.up(deployment, preview=True)

    def destroy(self, exclude_protected: bool = False, skip_preview: bool = False) -> None:
        """`pulumi destroy` (pkg/cmd/pulumi/operations/destroy.go).

        - With a preview (the default), a protected resource fails the preview: nothing is deleted
          (pkg/backend/apply.go, `PreviewThenPrompt`; step.go `DeleteStep.Apply` checks protect
          before its dry-run check).
        - `--skip-preview`: unprotected resources are deleted, the protected one errors, and what it
          depends on is kept (step_executor.go `cancelDueToError`; deployment_executor.go
          `performPostSteps`); the command then fails.
        - `--exclude-protected`: protected resources and everything they transitively depend on stay
          in state (`getProtectedExcludes`); everything else is destroyed.
        """
        urns = [u for u in reversed(self.order) if u in self.state]
        keep: set[str] = set()
        if exclude_protected:
            for urn in urns:
                if self.state[urn].protect:
                    keep |= {urn, *self._dependencies_of(urn)}
        targets = [self.state[u] for u in urns if u not in keep]
        if not skip_preview and any(a.protect for a in targets):
            names = ", ".join(a.name for a in targets if a.protect)
            raise ApplyError(f"preview failed: {names} protected; `pulumi destroy` deletes nothing")
        errors = self._delete_all(targets, preview=False, replacing=0)
        self.order = [u for u in self.order if u in self.state]
        if errors:
            raise ApplyError("\n".join(errors))

    def outputs(self, name: str) -> dict[str, Any]:
        """The real outputs of the applied resource named `name` (e.g. a command's stdout)."""
        return next(a.outputs for a in self.state.values() if a.name == name)

    def applied(self, name: str) -> Applied:
        return next(a for a in self.state.values() if a.name == name)

    # ------------------------------------------------------------------ one resource
    def _step(
        self, r: Registration, old: Applied | None, inputs: dict[str, Any], preview: bool
    ) -> tuple[Step, Applied | None, Applied | None]:
        """(step, the resource after it, an old half to delete later)."""
        provider = _provider_urn(r.provider)
        if old is None:
            if preview:
                return Step(r.name, "create"), None, None
            log(f"apply: create {r.name}")
            return Step(r.name, "create"), self._create(r, inputs, provider), None
        if r.type == DOCKER_PROVIDER:
            # A provider's config change is an in-place Update with the same ID (providers/registry.go
            # `Update`); the bridge reports no replacement for `host` (tfbridge `configDiffer.DiffConfig`,
            # no ForcesProviderReplace in pulumi-docker resources.go), so its resources stay as they are.
            same = old.inputs == inputs
            if not preview and not same:
                old.inputs = inputs
            return Step(r.name, "same" if same else "update"), old, None
        # A different provider reference replaces only if its DiffConfig says so (step_generator.go
        # `providerChanged`), which docker's never does: the resource just follows the new provider.
        changes = self._diff(r, old, inputs)
        if not changes.changed:
            if not preview:
                old.provider, old.protect, old.retain_on_delete = provider, r.protect, r.retain_on_delete
            return Step(r.name, "same"), old, None
        if changes.replace:
            if old.protect and r.protect:
                # step_generator.go `continueStepsFromDiff`: a protected resource is never replaced.
                raise ApplyError(f"unable to replace resource {r.urn}: it is protected")
            delete_first = self._deletes_before_replace(r, changes)
            step = Step(r.name, "replace", tuple(changes.replace), delete_first)
            if preview:
                return step, None, None
            log(f"apply: replace {r.name} ({'delete first' if delete_first else 'create first'}): {changes.replace}")
            if delete_first:
                self._check_dependents_of_delete_first(old)
                self._delete_one(old, replacing=True)
                del self.state[r.urn]
                return step, self._create(r, inputs, provider), None
            return step, self._create(r, inputs, provider), old
        step = Step(r.name, "update", tuple(changes.update))
        if preview:
            return step, old, None
        log(f"apply: update {r.name}: {changes.update}")
        return step, self._update(r, old, inputs, changes, provider), None

    def _diff(self, r: Registration, old: Applied, inputs: dict[str, Any]) -> Diff:
        if r.type in COMMANDS:
            return command_diff(old.inputs, inputs, r.replace_on_changes)
        changes = diff(SCHEMAS[r.type], old.outputs, inputs)
        # step_generator.go `applyReplaceOnChanges`: a changed path under replaceOnChanges replaces.
        forced = [k for k in changes.update if any(p.split("[")[0].split(".")[0] == k for p in r.replace_on_changes)]
        return Diff(replace=[*changes.replace, *forced], update=[k for k in changes.update if k not in forced])

    def _deletes_before_replace(self, r: Registration, changes: Diff) -> bool:
        """step_generator.go: the resource option wins; otherwise the provider's answer, which the
        bridge gives only for replacements the provider itself reports (ForceNew), never for those
        that replaceOnChanges adds."""
        if r.delete_before_replace is not None:
            return r.delete_before_replace
        schema = SCHEMAS.get(r.type, {})
        provider_reported = [k for k in changes.replace if k in schema and schema[k].force_new]
        return r.type in PROVIDER_DELETES_BEFORE_REPLACE and bool(provider_reported)

    def _check_dependents_of_delete_first(self, old: Applied) -> None:
        """step_generator.go `calculateDependentReplacements`: before a delete-first replacement, the
        engine deletes the dependents whose inputs (property dependencies, not dependsOn) would force
        their own replacement, and recreates them when they register again. The applier replaces them
        when they register instead, which is the same for a command without a `delete` (ours: the
        health gate and the CA step). Any other such dependent is not modelled."""
        replacing = {old.urn}
        for urn in self.order:
            other = self.state.get(urn)
            if other is None or not any(set(deps) & replacing for deps in other.property_dependencies.values()):
                continue
            replacing.add(urn)
            if other.type not in COMMANDS or other.inputs.get("delete"):
                raise Unmapped(f"{urn} would be deleted before delete-before-replace {old.urn}: not modelled")

    # ------------------------------------------------------------------ providers
    def _create(self, r: Registration, inputs: dict[str, Any], provider: str) -> Applied:
        applied = Applied(
            r.urn, r.type, r.name, inputs, protect=r.protect, retain_on_delete=r.retain_on_delete,
            provider=provider, dependencies=list(r.dependencies), parent=r.parent,
            property_dependencies={k: list(v) for k, v in r.property_dependencies.items()},
        )  # fmt: skip
        try:
            if r.type == DOCKER_PROVIDER:
                applied.outputs = {}
            elif r.type in COMMANDS:
                applied.outputs = self.commands.run(r.type, r.name, inputs, "create", {})
            else:
                applied.outputs = self._docker_call(provider, r.type, "create", inputs)
        except (CommandFailed, ProviderError, EngineError, ConnectionError) as error:
            raise ApplyError(f"{r.name} (create): {error}") from None
        return applied

    def _update(self, r: Registration, old: Applied, inputs: dict[str, Any], changes: Diff, provider: str) -> Applied:
        try:
            if r.type in COMMANDS:
                state = self.commands.run(r.type, r.name, inputs, "update", old.outputs)
            else:
                state = self._docker_call(provider, r.type, "update", inputs, old.outputs, changes)
        except (CommandFailed, ProviderError, EngineError, ConnectionError) as error:
            raise ApplyError(f"{r.name} (update): {error}") from None
        old.inputs, old.outputs, old.provider = inputs, state, provider
        old.protect, old.retain_on_delete = r.protect, r.retain_on_delete
        return old

    def _docker_call(
        self,
        provider_urn: str,
        type_: str,
        op: str,
        inputs: dict,
        state: dict | None = None,
        changes: Diff | None = None,
    ) -> dict:
        docker = self.docker(provider_urn)
        kind = type_.split("/")[1].split(":")[0]  # container | remoteImage | volume | network
        prefix = {"container": "container", "remoteImage": "image", "volume": "volume", "network": "network"}[kind]
        if op == "create":
            return getattr(docker, f"{prefix}_create")(inputs)
        if kind == "container":
            return docker.container_update(state or {}, inputs, changes or Diff())
        if kind == "remoteImage":
            return docker.image_update(state or {}, inputs, changes or Diff())
        raise Unmapped(f"{type_} has no in-place update upstream, yet the diff asked for one: {changes}")

    def docker(self, provider_urn: str) -> DockerProvider:
        """The configured Docker provider (`host`, `ssh_opts`) a resource uses."""
        config = self.state[provider_urn].inputs
        opts = config.get("sshOpts") or "[]"
        opts = json.loads(opts) if isinstance(opts, str) else opts
        # provider.go: `host` defaults to DOCKER_HOST, then the platform's socket (config.go MakeClient).
        host = config.get("host") or self.base_env.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        return DockerProvider(EngineClient(host, [*opts, *identity_ssh_options(self.identity_file)], self.base_env))

    # ------------------------------------------------------------------ deletes
    def _delete_all(self, targets: list[Applied], preview: bool, replacing: int) -> list[str]:
        """Delete in order; a protected resource errors without stopping the others, and whatever it
        depends on is then kept (step_executor.go `cancelDueToError`: deleteProtectedError continues;
        deployment_executor.go `performPostSteps` drops deletes of the errored resource's dependencies)."""
        errors: list[str] = []
        spared: set[str] = set()
        for index, applied in enumerate(targets):
            is_replacement = index < replacing
            if applied.urn in spared and not is_replacement:
                continue
            if applied.protect and not is_replacement:
                errors.append(f"{applied.urn} is protected: it cannot be deleted")
                spared |= self._dependencies_of(applied.urn)
                continue
            if preview:
                continue
            self._delete_one(applied, replacing=is_replacement)
            if not is_replacement:
                self.state.pop(applied.urn, None)
        return errors

    def _delete_one(self, applied: Applied, replacing: bool) -> None:
        """step.go `DeleteStep.Apply`: retainOnDelete drops the resource from state without calling
        the provider, on destroy and on replacement alike."""
        log(f"apply: delete {applied.name}{' (old half of a replacement)' if replacing else ''}")
        if applied.retain_on_delete or applied.type == DOCKER_PROVIDER:
            return
        try:
            if applied.type in COMMANDS:
                if applied.inputs.get("delete"):
                    self.commands.run(applied.type, applied.name, applied.inputs, "delete", applied.outputs)
                return
            docker = self.docker(applied.provider)
            kind = {"container": "container", "remoteImage": "image", "volume": "volume", "network": "network"}[
                applied.type.split("/")[1].split(":")[0]
            ]
            getattr(docker, f"{kind}_delete")(applied.outputs)
        except (CommandFailed, ProviderError, EngineError, ConnectionError) as error:
            raise ApplyError(f"{applied.name} (delete): {error}") from None

    def _dependencies_of(self, urn: str) -> set[str]:
        """Transitive dependencies: dependsOn and property dependencies, parent, provider
        (pkg/resource/graph, `TransitiveDependenciesOf`)."""
        found: set[str] = set()
        pending = [urn]
        while pending:
            applied = self.state.get(pending.pop())
            if applied is None:
                continue
            for dep in [*applied.dependencies, applied.provider, applied.parent]:
                if dep and dep not in found:
                    found.add(dep)
                    pending.append(dep)
        return found

    # ------------------------------------------------------------------ planning
    def _check_known(self, registrations: list[Registration]) -> None:
        for r in registrations:
            if r.type not in KNOWN_TYPES:
                raise Unmapped(f"{r.urn}: resource type {r.type} is not reproduced by the applier")
            if r.ignore_changes:
                raise Unmapped(f"{r.urn}: ignoreChanges is not modelled")
            if r.type in COMMANDS and set(r.inputs) - COMMAND_INPUTS:
                raise Unmapped(f"{r.urn}: inputs {sorted(set(r.inputs) - COMMAND_INPUTS)} are not modelled")
            if r.type == DOCKER_PROVIDER and set(r.inputs) - {"host", "sshOpts", "version"}:
                raise Unmapped(f"{r.urn}: provider inputs {sorted(r.inputs)} are not modelled")

    def _dependency_order(self, deployment: Deployment, registrations: list[Registration]) -> list[Registration]:
        """Registration order, checked: every dependency (and provider) comes first."""
        seen: set[str] = set()
        components = {r.urn for r in deployment.registrations if r.type in COMPONENT_TYPES}
        for r in registrations:
            needs = {d for d in r.dependencies if d not in components}
            if r.provider:
                needs.add(_provider_urn(r.provider))
            missing = needs - seen
            if missing:
                raise Unmapped(f"{r.urn} registered before its dependencies {sorted(missing)}")
            seen.add(r.urn)
        return registrations

    def _fake_to_real(self, r: Registration, applied: Applied | None) -> dict[str, Any]:
        """Map the mocks' made-up outputs of `r` to the real ones (unknown while a preview plans to
        create or replace it), for the inputs of the resources that use them."""
        if applied is None:
            mapping: dict[str, Any] = {r.id: UNKNOWN}
            if r.type == "docker:index/remoteImage:RemoteImage":
                mapping[fake_image_id(r.plain["name"])] = UNKNOWN
            return mapping
        mapping = {r.id: applied.outputs.get("id", r.id)}
        if r.type == "docker:index/remoteImage:RemoteImage":
            mapping[fake_image_id(r.plain["name"])] = applied.outputs["imageId"]
        return mapping


def changes_only(steps: list[Step]) -> list[Step]:
    """The steps that would change something (a no-op `up` has none)."""
    return [s for s in steps if s.op != "same"]


assert contains_unknown(UNKNOWN)
