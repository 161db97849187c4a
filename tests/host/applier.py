"""Apply what the program registered (under mocks) to a real machine, as the providers would.

`pulumi up` cannot run here (no CLI, no plugins), so this small applier stands in for the engine and
the three providers, using the same transports they use:
- Docker resources: the docker CLI with the provider's own `host` (DOCKER_HOST=ssh://...) and its
  `ssh_opts`, put on the `ssh` command line by a wrapper (the CLI takes no ssh options itself).
- remote.Command: OpenSSH to the connection's host/port/user, the host key verified against the
  connection's `hostKey` only (as pulumi-command's FixedHostKey does), `create`/`delete` as the remote
  command, `stdin` piped in.
- local.Command: `/bin/sh -c create` on this machine, `stdin` piped in.

What it reproduces: creation in dependency order; updates by diffing against the last applied state
(Container: delete-before-replace for the fields the provider marks ForceNew; Command: `create` re-run
on an input change, replacement (create new, then `delete` old) when `triggers` change; RemoteImage
and Volume replaced on a name change); deletes in reverse order, skipping `retain_on_delete` and
refusing or skipping (`exclude_protected`) `protect`ed resources. What it does not: refresh, import,
partial failure recovery, parallelism, and any input it does not know, which fails loudly.
The private key comes from a file here where the providers would use the SSH agent.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recorded import Deployment, Registration, fake_image_id

from .commands import log

COMPONENT_TYPES = {"pypiserver:index:PackageIndex"}
KNOWN_INPUTS = {
    "pulumi:providers:docker": {"host", "sshOpts", "version"},
    "docker:index/remoteImage:RemoteImage": {"name", "keepLocally"},
    "docker:index/volume:Volume": {"name", "labels"},
    "docker:index/network:Network": {"name", "internal"},
    "docker:index/container:Container": {
        "name", "image", "command", "entrypoints", "user", "ports", "mounts", "healthcheck", "restart",
        "logDriver", "logOpts", "memory", "memorySwap", "securityOpts", "capabilities", "networkMode",
        "networksAdvanced", "removeVolumes", "destroyGraceSeconds",
    },
    "command:remote:Command": {"connection", "create", "delete", "stdin", "triggers", "logging", "addPreviousOutputInEnv"},
    "command:local:Command": {
        "create", "delete", "stdin", "triggers", "logging", "addPreviousOutputInEnv", "environment",
    },
}  # fmt: skip
# Container inputs the docker provider marks ForceNew (terraform-provider-docker resource schema).
CONTAINER_FORCE_NEW = {
    "name", "image", "command", "entrypoints", "user", "ports", "mounts", "logDriver", "logOpts",
    "securityOpts", "capabilities", "networkMode", "networksAdvanced",
}  # fmt: skip
CONNECTION_KEYS = {"host", "port", "user", "hostKey", "privateKey", "dialErrorLimit", "perDialTimeout"}


class ApplyError(RuntimeError):
    """A step failed on the machine; the message carries what the provider would have shown."""


class Unmapped(AssertionError):
    """The program used something this applier does not reproduce: the test must fail, not guess."""


@dataclass
class Applied:
    type: str
    name: str
    inputs: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict)
    protect: bool = False
    retain_on_delete: bool = False
    provider: str = ""


def _provider_urn(reference: str) -> str:
    return reference.rsplit("::", 1)[0] if reference else ""


class Applier:
    """Keeps the applied state of one stack between `up()` calls, as a Pulumi backend would."""

    def __init__(self, identity_file: Path, base_env: Mapping[str, str] | None = None):
        self.identity_file = identity_file
        self.base_env = dict(os.environ if base_env is None else base_env)
        self.state: dict[str, Applied] = {}
        self.order: list[str] = []
        self.workdir = Path(tempfile.mkdtemp(prefix="pypi-applier-"))

    # ------------------------------------------------------------------ the engine
    def up(self, deployment: Deployment) -> None:
        """Bring the machine to what `deployment` declares (create, update, replace, then delete)."""
        registrations = [r for r in deployment.registrations if r.type not in COMPONENT_TYPES]
        self._check_known(registrations)
        ordered = self._dependency_order(deployment, registrations)
        resolved: dict[str, Any] = {}  # fake id from the mocks -> real output, for inputs like image
        for r in ordered:
            inputs = self._resolve(r.plain, resolved)
            previous = self.state.get(r.urn)
            if previous is None:
                applied = self._create(r, inputs)
            elif previous.inputs == inputs:
                applied = previous
            else:
                applied = self._change(r, previous, inputs)
            applied.protect, applied.retain_on_delete = r.protect, r.retain_on_delete
            self.state[r.urn] = applied
            resolved.update(self._fake_to_real(deployment, r, applied))
        wanted = [r.urn for r in ordered]
        for urn in reversed(self.order):
            if urn not in wanted:
                self._delete(urn, exclude_protected=False)
        self.order = wanted

    def destroy(self, exclude_protected: bool = True) -> None:
        """`pulumi destroy` (with `--exclude-protected` by default: protected resources stay in state).

        Without it, a protected resource makes the engine refuse the whole destroy before any delete.
        """
        protected = [self.state[u].name for u in self.order if u in self.state and self.state[u].protect]
        if protected and not exclude_protected:
            raise ApplyError(f"{', '.join(protected)} protected: `pulumi destroy` refuses and deletes nothing")
        for urn in reversed(self.order):
            self._delete(urn, exclude_protected)
        self.order = [u for u in self.order if u in self.state]

    def outputs(self, name: str) -> dict[str, Any]:
        """The real outputs of the applied resource named `name` (e.g. a command's stdout)."""
        return next(a.outputs for a in self.state.values() if a.name == name)

    # ------------------------------------------------------------------ planning
    def _check_known(self, registrations: list[Registration]) -> None:
        for r in registrations:
            known = KNOWN_INPUTS.get(r.type)
            if known is None:
                raise Unmapped(f"{r.urn}: resource type {r.type} is not reproduced by the applier")
            unknown = set(r.inputs) - known
            if unknown:
                raise Unmapped(f"{r.urn}: inputs {sorted(unknown)} are not reproduced by the applier")
            connection = r.plain.get("connection")
            if connection is not None and set(connection) - CONNECTION_KEYS:
                raise Unmapped(f"{r.urn}: connection keys {sorted(set(connection) - CONNECTION_KEYS)}")

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

    def _fake_to_real(self, deployment: Deployment, r: Registration, applied: Applied) -> dict[str, Any]:
        """Map the mocks' made-up outputs of `r` to the real ones, for the inputs that use them."""
        mapping = {r.id: applied.outputs.get("id", r.id)}
        if r.type == "docker:index/remoteImage:RemoteImage":
            mapping[fake_image_id(r.plain["name"])] = applied.outputs["imageId"]
        return mapping

    def _resolve(self, value: Any, resolved: Mapping[str, Any]) -> Any:
        if isinstance(value, str):
            return resolved.get(value, value)
        if isinstance(value, list):
            return [self._resolve(v, resolved) for v in value]
        if isinstance(value, dict):
            return {k: self._resolve(v, resolved) for k, v in value.items()}
        return value

    # ------------------------------------------------------------------ resource operations
    def _create(self, r: Registration, inputs: dict[str, Any]) -> Applied:
        applied = Applied(r.type, r.name, inputs, provider=_provider_urn(r.provider))
        log(f"apply: create {r.name}")
        handler = getattr(self, "_create_" + r.type.split(":")[-1].split("/")[-1].lower())
        applied.outputs = handler(applied) or {}
        return applied

    def _change(self, r: Registration, previous: Applied, inputs: dict[str, Any]) -> Applied:
        changed = {k for k in set(inputs) | set(previous.inputs) if inputs.get(k) != previous.inputs.get(k)}
        log(f"apply: change {r.name}: {sorted(changed)}")
        if r.type == "docker:index/container:Container":
            if changed - CONTAINER_FORCE_NEW:
                raise Unmapped(f"{r.urn}: in-place container update of {sorted(changed - CONTAINER_FORCE_NEW)}")
            if previous.protect:
                raise ApplyError(f"{r.urn} is protected and cannot be replaced")
            self._delete_container(previous)  # pulumi-docker: delete-before-replace, always
            return self._create(r, inputs)
        if r.type in ("command:remote:Command", "command:local:Command"):
            if "triggers" in changed:  # replaceOnChanges: create the new one, then delete the old
                replacement = self._create(r, inputs)
                self._run_command(previous, "delete")
                return replacement
            previous.inputs = inputs
            self._run_command(previous, "create")  # no `update` command: create runs again
            return previous
        if r.type in (
            "docker:index/remoteImage:RemoteImage",
            "docker:index/volume:Volume",
            "docker:index/network:Network",
        ):
            if previous.protect:
                raise ApplyError(f"{r.urn} is protected and cannot be replaced")
            replacement = self._create(r, inputs)
            if not previous.retain_on_delete:
                getattr(self, "_delete_" + r.type.split("/")[-1].split(":")[0].lower())(previous)
            return replacement
        if r.type == "pulumi:providers:docker":
            previous.inputs = inputs
            return previous
        raise Unmapped(f"{r.urn}: no update semantics for {r.type}")

    def _delete(self, urn: str, exclude_protected: bool) -> None:
        applied = self.state.get(urn)
        if applied is None:
            return
        if applied.protect:
            if exclude_protected:
                log(f"apply: keep protected {applied.name}")
                return
            raise ApplyError(f"{urn} is protected: `pulumi destroy` refuses to delete it")
        log(f"apply: delete {applied.name}")
        if not applied.retain_on_delete:
            kind = applied.type.split(":")[-1].split("/")[-1].lower()
            if kind == "command":
                self._run_command(applied, "delete")
            elif kind != "docker":
                getattr(self, f"_delete_{kind}")(applied)
        del self.state[urn]

    # ------------------------------------------------------------------ docker provider
    def _docker_env(self, provider_urn: str) -> dict[str, str]:
        provider = self.state[provider_urn].inputs
        env = dict(self.base_env)
        for var in ("DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
            env.pop(var, None)
        host = provider.get("host")
        if host:
            env["DOCKER_HOST"] = host
        if host and host.startswith("ssh://"):
            opts = provider.get("sshOpts") or "[]"
            opts = json.loads(opts) if isinstance(opts, str) else opts
            bin_dir = self.workdir / "bin" / str(abs(hash(provider_urn)))
            bin_dir.mkdir(parents=True, exist_ok=True)
            real_ssh = subprocess.run(["sh", "-c", "command -v ssh"], capture_output=True, text=True).stdout.strip()
            wrapper = bin_dir / "ssh"
            wrapper.write_text(
                "#!/bin/sh\n# The docker CLI runs `ssh` itself; add the provider's ssh_opts and our identity.\n"
                f'exec {shlex.quote(real_ssh)} {shlex.join(opts)} {self._identity_opts()} "$@"\n'
            )
            wrapper.chmod(0o755)
            env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', os.defpath)}"
        return env

    def _identity_opts(self) -> str:
        return shlex.join(
            [
                "-i",
                str(self.identity_file),
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "IdentityAgent=none",
                "-o",
                "LogLevel=ERROR",
            ]
        )

    def _docker(
        self, applied: Applied, *args: str, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess:
        result = subprocess.run(
            ["docker", *args], env=self._docker_env(applied.provider), capture_output=True, text=True, timeout=timeout
        )
        if check and result.returncode != 0:
            raise ApplyError(f"{applied.name}: docker {shlex.join(args)} failed:\n{result.stderr[-3000:]}")
        return result

    def _create_docker(self, applied: Applied) -> dict[str, Any]:
        return {}

    def _create_remoteimage(self, applied: Applied) -> dict[str, Any]:
        name = applied.inputs["name"]
        # Like the provider: use the local image when present, pull only when it is not.
        if self._docker(applied, "image", "inspect", name, check=False).returncode != 0:
            self._docker(applied, "pull", name, timeout=900)
        image_id = self._docker(applied, "image", "inspect", "--format", "{{.Id}}", name).stdout.strip()
        return {"imageId": image_id}

    def _delete_remoteimage(self, applied: Applied) -> None:
        if not applied.inputs.get("keepLocally"):
            self._docker(applied, "image", "rm", applied.inputs["name"], check=False)

    def _create_volume(self, applied: Applied) -> dict[str, Any]:
        labels = [f"--label={label['label']}={label['value']}" for label in applied.inputs.get("labels", [])]
        self._docker(applied, "volume", "create", *labels, applied.inputs["name"])
        return {"id": applied.inputs["name"]}

    def _delete_volume(self, applied: Applied) -> None:
        self._docker(applied, "volume", "rm", applied.inputs["name"])

    def _create_network(self, applied: Applied) -> dict[str, Any]:
        internal = ["--internal"] if applied.inputs.get("internal") else []
        self._docker(applied, "network", "create", *internal, applied.inputs["name"])
        return {"id": applied.inputs["name"]}

    def _delete_network(self, applied: Applied) -> None:
        self._docker(applied, "network", "rm", applied.inputs["name"])

    def _create_container(self, applied: Applied) -> dict[str, Any]:
        i = applied.inputs
        args = ["create", "--name", i["name"]]
        entrypoint = i.get("entrypoints", [])
        if entrypoint:
            args += ["--entrypoint", entrypoint[0]]
        if "user" in i:
            args += ["--user", i["user"]]
        if "networkMode" in i:
            args += ["--network", i["networkMode"]]
        for capability in i.get("capabilities", {}).get("drops", []):
            args += ["--cap-drop", capability]
        for capability in i.get("capabilities", {}).get("adds", []):
            args += ["--cap-add", capability]
        for port in i.get("ports", []):
            args += [
                "--publish",
                f"{port['ip']}:{int(port['external'])}:{int(port['internal'])}/{port.get('protocol', 'tcp')}",
            ]
        for mount in i.get("mounts", []):
            if set(mount) - {"type", "source", "target", "readOnly", "volumeOptions"}:
                raise Unmapped(f"{applied.name}: mount keys {sorted(mount)}")
            if set(mount.get("volumeOptions", {})) - {"noCopy"}:
                raise Unmapped(f"{applied.name}: volume options {sorted(mount['volumeOptions'])}")
            spec = f"type={mount['type']},source={mount['source']},target={mount['target']}"
            spec += ",readonly" if mount.get("readOnly") else ""
            spec += ",volume-nocopy" if mount.get("volumeOptions", {}).get("noCopy") else ""
            args += ["--mount", spec]
        health = i.get("healthcheck")
        if health:
            if health["tests"][0] != "CMD":
                raise Unmapped(f"{applied.name}: healthcheck {health['tests'][0]}")
            args += [
                "--health-cmd", shlex.join(health["tests"][1:]),
                "--health-interval", health["interval"], "--health-timeout", health["timeout"],
                "--health-retries", str(int(health["retries"])), "--health-start-period", health["startPeriod"],
            ]  # fmt: skip
        args += ["--restart", i.get("restart", "no")]
        if "logDriver" in i:
            args += ["--log-driver", i["logDriver"]]
        for key, value in sorted(i.get("logOpts", {}).items()):
            args += ["--log-opt", f"{key}={value}"]
        if "memory" in i:
            args += ["--memory", f"{int(i['memory'])}m"]
        if "memorySwap" in i:
            args += ["--memory-swap", f"{int(i['memorySwap'])}m"]
        for opt in i.get("securityOpts", []):
            args += ["--security-opt", opt]
        args += [i["image"], *entrypoint[1:], *i.get("command", [])]
        container_id = self._docker(applied, *args).stdout.strip()
        if i.get("networksAdvanced"):
            # As the provider does: created on the default bridge, then moved to the listed networks.
            self._docker(applied, "network", "disconnect", "bridge", container_id)
            for network in i["networksAdvanced"]:
                aliases = [f"--alias={alias}" for alias in network.get("aliases", [])]
                self._docker(applied, "network", "connect", *aliases, network["name"], container_id)
        self._docker(applied, "start", container_id)  # `start` defaults to true in the provider
        return {"id": container_id}

    def _delete_container(self, applied: Applied) -> None:
        grace = str(int(applied.inputs.get("destroyGraceSeconds", 0)))
        self._docker(applied, "stop", "--time", grace, applied.outputs["id"], check=False)
        remove = ["rm", "--force"] + (["--volumes"] if applied.inputs.get("removeVolumes", True) else [])
        self._docker(applied, *remove, applied.outputs["id"], check=False)

    # ------------------------------------------------------------------ command provider
    def _create_command(self, applied: Applied) -> dict[str, Any]:
        return self._run_command(applied, "create")

    def _run_command(self, applied: Applied, phase: str) -> dict[str, Any]:
        script = applied.inputs.get(phase)
        if not script:
            return {}
        stdin = applied.inputs.get("stdin")
        if applied.type == "command:local:Command":
            argv = ["/bin/sh", "-c", script]
        else:
            argv = [*self._ssh_argv(applied.name, applied.inputs["connection"]), script]
        env = {**self.base_env, **applied.inputs.get("environment", {})}
        result = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=env, timeout=900)
        if result.returncode != 0:
            raise ApplyError(
                f"{applied.name} ({phase}) exited {result.returncode}:\n"
                f"stdout:\n{result.stdout[-2000:]}\nstderr:\n{result.stderr[-3000:]}"
            )
        return {"stdout": result.stdout, "stderr": result.stderr}

    def _ssh_argv(self, name: str, connection: Mapping[str, Any]) -> list[str]:
        host, port = connection["host"], int(connection.get("port", 22))
        options = ["-o", "BatchMode=yes", "-o", f"ConnectTimeout={int(connection.get('perDialTimeout', 15))}"]
        host_key = connection.get("hostKey")
        if host_key:
            # pulumi-command's FixedHostKey: this key and no other, whatever known_hosts says.
            known = self.workdir / f"known_hosts-{abs(hash((host, port, host_key)))}"
            known.write_text(f"[{host}]:{port} {host_key}\n" if port != 22 else f"{host} {host_key}\n")
            options += [
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
                f"UserKnownHostsFile={known}",
                "-o",
                "GlobalKnownHostsFile=/dev/null",
            ]
        else:
            options += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
        identity = shlex.split(self._identity_opts())
        if connection.get("privateKey"):
            key = self.workdir / f"key-{name}"
            key.write_text(connection["privateKey"])
            key.chmod(0o600)
            identity[1] = str(key)
        return ["ssh", *options, *identity, "-p", str(port), f"{connection.get('user', 'root')}@{host}", "--"]
