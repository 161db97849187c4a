"""A model of pulumi-docker 5.x for the resources the program declares, written from its source.

pulumi-docker 5.x bridges kreuzwerker/terraform-provider-docker v4.5.0 (its `upstream` submodule,
commit 5074970c). Every function here names the upstream function it follows; paths are under
`internal/provider/` of that repository unless said otherwise. What it models:

- the schema that decides a diff (ForceNew, Computed, defaults, the one DiffSuppressFunc we meet),
  compared as the Terraform SDK does (`helper/schema/schema.go`, `schemaMap.diff*`): the planned value
  is the input or its default; an input that is absent compares as the zero value unless Computed;
- Create: the exact Engine API requests, including the API-version gate on `volume_options`;
- Read after Create: what the provider stores, as read back from the daemon (the state the next
  `pulumi up` diffs against: pulumi does not refresh unless asked);
- Update: what reaches Docker (ContainerUpdate) and what only changes state;
- Delete.

Anything the program sends that is not modelled fails loudly (`Unmapped`): the model must not guess.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .engine_api import EngineClient, EngineError


class Unmapped(AssertionError):
    """The program used something this model does not reproduce: the test must fail, not guess."""


class ProviderError(RuntimeError):
    """What the provider would have reported (the deploy fails)."""


class Unknown:
    """An input whose value is not known yet (a dependency is being created or replaced): preview."""

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN = Unknown()


def contains_unknown(value: Any) -> bool:
    if value is UNKNOWN:
        return True
    if isinstance(value, Mapping):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(contains_unknown(v) for v in value)
    return False


@dataclass
class Diff:
    """Changed attributes: those that force a new resource, and those updated in place."""

    replace: list[str] = field(default_factory=list)
    update: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.replace or self.update)


@dataclass(frozen=True)
class Attr:
    """One schema attribute, as `resource_docker_*.go` declares it (in pulumi's property names)."""

    force_new: bool = False
    computed: bool = False
    default: Any = None
    kind: str = "scalar"  # scalar | list | set | map
    canonical: Callable[[Any], Any] | None = None
    """How the SDK compares nested values: defaults filled in, sets unordered."""
    suppress: Callable[[Any, Any], bool] | None = None
    """A DiffSuppressFunc: (old, new) -> equal."""
    zero: Any = None
    """The schema type's zero value (`schema.Type.Zero()`): what an absent input compares as."""


def _ints(value: Any) -> Any:
    """Pulumi sends numbers as floats; the schema's TypeInt attributes hold ints."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: _ints(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_ints(v) for v in value]
    return value


def _json(value: Any) -> str:
    return json.dumps(_ints(value), sort_keys=True, default=repr)


def _as_set(items: Any, canonical: Callable[[Any], Any] = lambda x: x) -> tuple:
    return tuple(sorted(_json(canonical(item)) for item in items or []))


def _mount(m: Mapping[str, Any]) -> dict:
    """A `mounts` element with the schema's zero values (resource_docker_container.go, mounts)."""
    options = m.get("volumeOptions")
    return {
        "type": m.get("type"),
        "source": m.get("source", ""),
        "target": m.get("target"),
        "readOnly": bool(m.get("readOnly", False)),
        "volumeOptions": None if not options else {"noCopy": bool(options.get("noCopy", False))},
    }


def _network(n: Mapping[str, Any]) -> dict:
    return {"name": n.get("name"), "aliases": sorted(n.get("aliases") or [])}


def _capabilities(c: Any) -> Any:
    if not c:
        return None
    return {"adds": sorted(c.get("adds") or []), "drops": sorted(c.get("drops") or [])}


def _healthcheck(h: Any) -> Any:
    """Defaults of the healthcheck block: durations "0s", retries 0 (resource_docker_container.go)."""
    if not h:
        return None
    return {
        "tests": list(h.get("tests") or []),
        "interval": h.get("interval", "0s"),
        "timeout": h.get("timeout", "0s"),
        "startPeriod": h.get("startPeriod", "0s"),
        "startInterval": h.get("startInterval", "0s"),
        "retries": int(h.get("retries", 0)),
    }


def _port(p: Mapping[str, Any]) -> dict:
    return {
        "internal": int(p["internal"]),
        "external": int(p.get("external", 0)),
        "ip": p.get("ip") or "0.0.0.0",  # Default and StateFunc: "" -> "0.0.0.0"
        "protocol": p.get("protocol", "tcp"),
    }


def ports_unchanged(old: Any, new: Any) -> bool:
    """resource_docker_container.go, `suppressIfPortsDidNotChangeForMigrationV0ToV1`: entries are
    matched by `internal`, in any order; a different count, external, ip or protocol is a change."""
    old_ports, new_ports = [_port(p) for p in old or []], [_port(p) for p in new or []]
    if len(old_ports) != len(new_ports):
        return False
    for port in old_ports:
        found = False
        for candidate in new_ports:
            if candidate["internal"] != port["internal"]:
                continue
            if candidate["protocol"] != port["protocol"]:
                if any(p["internal"] == port["internal"] and p["protocol"] == port["protocol"] for p in new_ports):
                    continue  # containsPortWithProtocol: another entry carries the old protocol
                return False
            if candidate["external"] != port["external"] or candidate["ip"] != port["ip"]:
                return False
            found = True
            break
        if not found:
            return False
    return True


# resource_docker_container.go, `resourceDockerContainer()`: the attributes the program sets or that
# Read writes; pulumi names (entrypoint -> entrypoints, capabilities.add -> adds, healthcheck.test -> tests).
CONTAINER: dict[str, Attr] = {
    "name": Attr(force_new=True),
    "image": Attr(force_new=True),
    "command": Attr(force_new=True, computed=True, kind="list"),
    # Create sends it as Config.Env (resource_docker_container_funcs.go, Create: `d.GetOk("env")`);
    # Read never writes it back, so the state keeps what was sent and the image's ENV never diffs.
    "envs": Attr(force_new=True, computed=True, kind="set"),
    "entrypoints": Attr(force_new=True, computed=True, kind="list"),
    # DiffSuppressFunc: `if newV == "" { newV = oldV }`
    "user": Attr(force_new=True, suppress=lambda old, new: not new or old == new),
    "ports": Attr(force_new=True, kind="list", suppress=ports_unchanged),
    "mounts": Attr(force_new=True, kind="set", canonical=_mount),
    "healthcheck": Attr(computed=True, canonical=_healthcheck),
    "restart": Attr(default="no"),
    "logDriver": Attr(force_new=True, computed=True),
    "logOpts": Attr(force_new=True, kind="map"),
    "memory": Attr(zero=0),
    "memorySwap": Attr(zero=0),
    "securityOpts": Attr(force_new=True, computed=True, kind="set"),
    "capabilities": Attr(force_new=True, canonical=_capabilities),
    "networkMode": Attr(force_new=True, default="bridge"),
    "networksAdvanced": Attr(force_new=True, kind="set", canonical=_network),
    "removeVolumes": Attr(default=True),
    "destroyGraceSeconds": Attr(zero=0),
    "mustRun": Attr(default=True),
    "start": Attr(default=True),
    "init": Attr(computed=True),
    "readOnly": Attr(force_new=True, default=False),
}
# In-place updates: resourceDockerContainerUpdate's `attrs` (the ones the program can set).
CONTAINER_UPDATED_IN_DOCKER = {"restart", "memory", "memorySwap"}
# Read writes these from inspect; the program never sets them, so the daemon must report the zero value.
CONTAINER_READ_ZERO = {
    "rm": ("HostConfig", "AutoRemove"),
    "privileged": ("HostConfig", "Privileged"),
    "publishAllPorts": ("HostConfig", "PublishAllPorts"),
    "maxRetryCount": ("HostConfig", "RestartPolicy", "MaximumRetryCount"),
    "tmpfs": ("HostConfig", "Tmpfs"),
    "dns": ("HostConfig", "Dns"),
    "dnsOpts": ("HostConfig", "DnsOptions"),
    "dnsSearch": ("HostConfig", "DnsSearch"),
}

IMAGE: dict[str, Attr] = {
    # resource_docker_image.go: name, pull_triggers, platform, triggers ForceNew; keep_locally is not.
    "name": Attr(force_new=True),
    "keepLocally": Attr(default=False),
}
VOLUME: dict[str, Attr] = {
    # resource_docker_volume.go: name Optional+Computed+ForceNew; labels ForceNew, not Computed.
    "name": Attr(force_new=True, computed=True),
    "labels": Attr(force_new=True, kind="set"),
    "driver": Attr(force_new=True, computed=True),
}
NETWORK: dict[str, Attr] = {
    # resource_docker_network.go: every input ForceNew, no Update function.
    "name": Attr(force_new=True),
    "internal": Attr(force_new=True, computed=True),
    "labels": Attr(force_new=True, kind="set"),
    "driver": Attr(force_new=True, computed=True),
}
SCHEMAS = {
    "docker:index/container:Container": CONTAINER,
    "docker:index/remoteImage:RemoteImage": IMAGE,
    "docker:index/volume:Volume": VOLUME,
    "docker:index/network:Network": NETWORK,
}


def _zero(attr: Attr) -> Any:
    return {"list": [], "set": [], "map": {}}.get(attr.kind)


def _comparable(attr: Attr, value: Any) -> Any:
    if value is None or value == [] or value == {}:
        value = _zero(attr) if attr.zero is None else attr.zero
    if attr.kind == "set":
        return _as_set(value, attr.canonical or (lambda x: x))
    if attr.kind == "list":
        return _json([attr.canonical(v) if attr.canonical else v for v in value or []])
    if attr.kind == "map":
        return _json({k: str(v) for k, v in (value or {}).items()})
    return _json(attr.canonical(value) if attr.canonical else value)


def diff(schema: Mapping[str, Attr], state: Mapping[str, Any], inputs: Mapping[str, Any]) -> Diff:
    """terraform-plugin-sdk `schemaMap.Diff`, as the bridge calls it: prior state against config."""
    result = Diff()
    for name, attr in schema.items():
        new = inputs.get(name, attr.default)
        old = state.get(name)
        if new is None and (attr.computed or name not in state):
            continue  # Optional+Computed and unset: whatever the provider read back stands
        if contains_unknown(new):
            changed = True  # preview: an unknown value is a change (and replaces a ForceNew attribute)
        elif attr.suppress is not None:
            changed = not attr.suppress(old, new)
        else:
            changed = _comparable(attr, old) != _comparable(attr, new)
        if changed:
            (result.replace if attr.force_new else result.update).append(name)
    return result


def _get(data: Mapping[str, Any], *path: str) -> Any:
    for key in path:
        data = (data or {}).get(key)  # type: ignore[assignment]
    return data


def _duration(nanoseconds: int) -> str:
    """Go's `time.Duration.String()` for whole seconds and minutes (what Read stores)."""
    seconds, rest = divmod(int(nanoseconds), 1_000_000_000)
    if rest:
        raise Unmapped(f"a healthcheck duration of {nanoseconds} ns is not whole seconds")
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes}m{seconds}s"


def _parse_duration(text: str) -> int:
    """`time.ParseDuration` for the forms the program writes ("15s", "1m30s"); errors are ignored
    by the provider (value 0), which we refuse instead of guessing."""
    total, number = 0, ""
    units = {"h": 3600, "m": 60, "s": 1}
    for char in text:
        if char.isdigit():
            number += char
        elif char in units and number:
            total += int(number) * units[char]
            number = ""
        else:
            raise Unmapped(f"duration {text!r} is not modelled")
    if number:
        raise Unmapped(f"duration {text!r} is not modelled")
    return total * 1_000_000_000


def normalize_capability(cap: str) -> str:
    """moby client/container_create.go (v28.5.2, linked by the provider), `normalizeCap`."""
    cap = cap.upper()
    if cap == "ALL":
        return cap
    return cap if cap.startswith("CAP_") else "CAP_" + cap


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


class DockerProvider:
    """One configured provider (`host`, `ssh_opts`): its resources' Create/Read/Update/Delete."""

    def __init__(self, client: EngineClient):
        self.client = client

    # ------------------------------------------------------------------ docker_container
    def container_request(self, inputs: Mapping[str, Any]) -> tuple[dict, dict]:
        """resource_docker_container_funcs.go, `resourceDockerContainerCreate`: the ContainerCreate call."""
        known = set(CONTAINER) - {"init", "readOnly"}
        unknown = set(inputs) - known
        if unknown:
            raise Unmapped(f"container inputs {sorted(unknown)} are not modelled")
        config: dict[str, Any] = {
            "Image": inputs["image"],
            "Hostname": "",
            "Domainname": "",
            "Tty": False,
            "OpenStdin": False,
            "StopSignal": "",
        }
        if inputs.get("command"):
            if "" in inputs["command"]:
                raise ProviderError("values for command may not be empty")
            config["Cmd"] = list(inputs["command"])
        if inputs.get("entrypoints"):
            config["Entrypoint"] = list(inputs["entrypoints"])
        if inputs.get("envs"):
            config["Env"] = sorted(inputs["envs"])  # stringSetToStringSlice over a schema.Set
        if inputs.get("user"):
            config["User"] = inputs["user"]
        exposed: dict[str, dict] = {}
        bindings: dict[str, list] = {}
        for port in inputs.get("ports") or []:
            # resource_docker_container_structures.go, `portSetToDockerPorts`
            p = _port(port)
            key = f"{p['internal']}/{p['protocol']}"
            exposed[key] = {}
            bindings.setdefault(key, []).append({"HostIp": p["ip"], "HostPort": str(p["external"])})
        if exposed:
            config["ExposedPorts"] = exposed
        health = inputs.get("healthcheck")
        if health:
            h = _healthcheck(health)
            config["Healthcheck"] = {
                "Test": h["tests"],
                "Interval": _parse_duration(h["interval"]),
                "Timeout": _parse_duration(h["timeout"]),
                "StartPeriod": _parse_duration(h["startPeriod"]),
                "StartInterval": _parse_duration(h["startInterval"]),
                "Retries": h["retries"],
            }
            # moby client/container_create.go: a start interval needs API 1.44
            if config["Healthcheck"]["StartInterval"] and self._api_below("1.44"):
                raise ProviderError('"specify health-check start interval" requires API version 1.44')
        mounts = []
        for raw in inputs.get("mounts") or []:
            m = _mount(raw)
            if set(raw) - {"type", "source", "target", "readOnly", "volumeOptions"}:
                raise Unmapped(f"mount keys {sorted(raw)} are not modelled")
            mount: dict[str, Any] = {"Type": m["type"], "Target": m["target"], "Source": m["source"]}
            mount["ReadOnly"] = m["readOnly"]
            if m["type"] == "volume" and raw.get("volumeOptions"):
                if set(raw["volumeOptions"]) - {"noCopy"}:
                    raise Unmapped(f"volume options {sorted(raw['volumeOptions'])} are not modelled")
                mount["VolumeOptions"] = {"NoCopy": m["volumeOptions"]["noCopy"]}
                # The gate wraps any volume_options block, subpath or not, and compares strings.
                if not self.client.api_version >= "1.45":
                    raise ProviderError("Setting VolumeOptions.Subpath requires docker version 1.45 or higher")
            mounts.append(mount)
        host: dict[str, Any] = {
            "Privileged": False,
            "PublishAllPorts": False,
            "RestartPolicy": {"Name": inputs.get("restart", "no"), "MaximumRetryCount": 0},
            "Runtime": "",
            "Mounts": mounts,
            "AutoRemove": False,
            "ReadonlyRootfs": False,
            "LogConfig": {"Type": inputs.get("logDriver", "")},
            "Init": False,  # `init := d.Get("init").(bool); hostConfig.Init = &init`
        }
        if bindings:
            host["PortBindings"] = bindings
        caps = inputs.get("capabilities")
        if caps:
            # ContainerCreate (moby client) normalises, de-duplicates: CAP_ prefix, ALL kept as is.
            host["CapAdd"] = _unique([normalize_capability(c) for c in caps.get("adds") or []]) or None
            host["CapDrop"] = _unique([normalize_capability(c) for c in caps.get("drops") or []]) or None
        if inputs.get("securityOpts"):
            if any(o.startswith("systempaths=") for o in inputs["securityOpts"]):
                raise Unmapped("systempaths security options are rewritten by parseSystemPaths: not modelled")
            host["SecurityOpt"] = list(inputs["securityOpts"])
        if inputs.get("memory"):
            host["Memory"] = int(inputs["memory"]) * 1024 * 1024
        if inputs.get("memorySwap"):
            swap = int(inputs["memorySwap"])
            host["MemorySwap"] = swap * 1024 * 1024 if swap > 0 else swap
        if inputs.get("logOpts"):
            host["LogConfig"]["Config"] = {k: str(v) for k, v in inputs["logOpts"].items()}
        host["NetworkMode"] = inputs.get("networkMode", "bridge")
        config["HostConfig"] = host
        config["NetworkingConfig"] = {}
        return {"name": inputs["name"]}, config

    def _api_below(self, version: str) -> bool:
        ours = tuple(int(x) for x in self.client.api_version.split("."))
        return ours < tuple(int(x) for x in version.split("."))

    def container_create(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """`resourceDockerContainerCreate`: findImage, ContainerCreate, networks, start, then Read."""
        self.find_image(inputs["image"])
        query, body = self.container_request(inputs)
        created = self.client.call("POST", "/containers/create", body=body, query=query)
        container_id = created["Id"]
        # The planned state: the schema's defaults, then the inputs; Read overwrites what it reads.
        defaults = {name: attr.default for name, attr in CONTAINER.items() if attr.default is not None}
        state: dict[str, Any] = {**defaults, **inputs, "id": container_id}
        if inputs.get("networksAdvanced"):
            try:
                self.client.call(
                    "POST", "/networks/bridge/disconnect", body={"Container": container_id, "Force": False}
                )
            except EngineError as error:
                if "is not connected to the network bridge" not in error.message:
                    raise ProviderError(f"Unable to disconnect the default network: {error}") from None
            for network in inputs["networksAdvanced"]:
                if set(network) - {"name", "aliases"}:
                    raise Unmapped(f"networks_advanced keys {sorted(network)} are not modelled")
                endpoint: dict[str, Any] = {"Aliases": network.get("aliases") or None, "IPAMConfig": {}}
                self.client.call(
                    "POST",
                    f"/networks/{network['name']}/connect",
                    body={"Container": container_id, "EndpointConfig": endpoint},
                )
        if inputs.get("start", True):
            self.client.call("POST", f"/containers/{container_id}/start")
        read = self.container_read(state)
        if read is None:
            raise ProviderError(f"container {container_id} vanished right after it was created")
        return read

    def container_read(self, prior: Mapping[str, Any]) -> dict[str, Any] | None:
        """`resourceDockerContainerRead`: the state stored after create (and by a refresh)."""
        try:
            c = self.client.call("GET", f"/containers/{prior['id']}/json")
        except EngineError as error:
            if error.status == 404:
                return None  # fetchDockerContainer found nothing: gone from state
            raise
        state = dict(prior)
        host, config = c["HostConfig"], c["Config"]
        running = c["State"]["Running"]
        must_run = prior.get("mustRun", True)
        # networks_advanced: the read branch needs an empty set to be "set", which GetOk never is.
        if (running or must_run) and prior.get("ports"):
            state["ports"] = flatten_ports(c["NetworkSettings"].get("Ports") or {})
        if not running and must_run:
            state["mustRun"] = False
        state["name"] = c["Name"].lstrip("/")
        state["image"] = c["Image"] if str(prior.get("image", "")).startswith("sha256:") else config["Image"]
        state["command"] = config.get("Cmd")
        state["entrypoints"] = config.get("Entrypoint")
        state["user"] = config.get("User", "")
        state["securityOpts"] = host.get("SecurityOpt")
        state["restart"] = host["RestartPolicy"]["Name"]
        state["init"] = bool(host.get("Init"))
        if host.get("CapAdd") or host.get("CapDrop"):
            state["capabilities"] = {"adds": host.get("CapAdd") or [], "drops": host.get("CapDrop") or []}
        state["mounts"] = [read_mount(m) for m in host.get("Mounts") or []]
        state["memory"] = host.get("Memory", 0) // 1024 // 1024
        swap = host.get("MemorySwap", 0)
        state["memorySwap"] = swap // 1024 // 1024 if swap > 0 else swap
        state["logDriver"] = host["LogConfig"]["Type"]
        # containerLogOptsForState: the inspected map (daemon defaults merged in) only when configured.
        state["logOpts"] = host["LogConfig"].get("Config") if prior.get("logOpts") else None
        state["networkMode"] = host.get("NetworkMode")
        health = config.get("Healthcheck")
        if health:
            state["healthcheck"] = {
                "tests": health.get("Test") or [],
                "interval": _duration(health.get("Interval", 0)),
                "timeout": _duration(health.get("Timeout", 0)),
                "startPeriod": _duration(health.get("StartPeriod", 0)),
                "startInterval": _duration(health.get("StartInterval", 0)),
                "retries": health.get("Retries", 0),
            }
        for name, path in CONTAINER_READ_ZERO.items():
            value = _get(c, *path)
            if value:
                raise Unmapped(f"{state['name']}: Read would store {name}={value!r}, which the model does not diff")
        state["readOnly"] = bool(host.get("ReadonlyRootfs"))
        return state

    def container_update(self, state: Mapping[str, Any], inputs: Mapping[str, Any], changes: Diff) -> dict[str, Any]:
        """`resourceDockerContainerUpdate`: one ContainerUpdate if restart/memory/memory_swap changed;
        every other change (healthcheck, remove_volumes, ...) only reaches the state. No Read after."""
        if set(changes.update) & CONTAINER_UPDATED_IN_DOCKER:
            resources: dict[str, Any] = {
                "CpuShares": 0,
                "Memory": int(inputs.get("memory") or 0) * 1024 * 1024,
                "MemoryReservation": 0,
                "CpusetCpus": "",
            }
            if inputs.get("memorySwap"):
                swap = int(inputs["memorySwap"])
                resources["MemorySwap"] = swap * 1024 * 1024 if swap > 0 else swap
            body = {"RestartPolicy": {"Name": inputs.get("restart", "no"), "MaximumRetryCount": 0}, **resources}
            self.client.call("POST", f"/containers/{state['id']}/update", body=body)
        if "mustRun" in changes.update and not state.get("mustRun") and inputs.get("mustRun", True):
            self.client.call("POST", f"/containers/{state['id']}/start")
        updated = dict(state)
        for name in changes.update:
            updated[name] = inputs.get(name, CONTAINER[name].default)
        return updated

    def container_delete(self, state: Mapping[str, Any]) -> None:
        """`resourceDockerContainerDelete`: stop with destroy_grace_seconds (0 if unset), remove with
        force and v=remove_volumes (anonymous volumes only), then wait until not running."""
        container_id = state["id"]
        grace = int(state.get("destroyGraceSeconds") or 0)
        try:
            self.client.call("POST", f"/containers/{container_id}/stop", query={"t": grace})
        except EngineError as error:
            if "No such container" not in error.message:
                raise ProviderError(f"Error stopping container {container_id}: {error}") from None
        remove_volumes = "1" if state.get("removeVolumes", True) else "0"
        try:
            self.client.call("DELETE", f"/containers/{container_id}", query={"v": remove_volumes, "force": "1"})
        except EngineError as error:
            if "No such container" not in error.message and "is already in progress" not in error.message:
                raise ProviderError(f"Error deleting container {container_id}: {error}") from None

    # ------------------------------------------------------------------ docker_image (RemoteImage)
    def find_image(self, name: str) -> dict[str, Any]:
        """resource_docker_image_funcs.go, `findImage`: the daemon's own name resolution first, a pull
        only when the image is missing, then a second look."""
        for attempt in range(2):
            try:
                return self.client.call("GET", f"/images/{name}/json")
            except EngineError as error:
                if error.status != 404:
                    raise
            if attempt == 0:
                repository, _, tag = name.partition("@")[0].rpartition(":")
                # pullImage only logs the stream; the second look decides
                with contextlib.suppress(EngineError):
                    self.client.call("POST", "/images/create", query={"fromImage": repository, "tag": tag}, stream=True)
        raise ProviderError(f"unable to find or pull image {name}")

    def image_create(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """`resourceDockerImageCreate` then `resourceDockerImageRead`."""
        if set(inputs) - set(IMAGE):
            raise Unmapped(f"RemoteImage inputs {sorted(set(inputs) - set(IMAGE))} are not modelled")
        found = self.find_image(inputs["name"])
        digests = found.get("RepoDigests") or []
        return {
            **inputs,
            "imageId": found["Id"],
            "repoDigest": digests[0] if len(digests) == 1 else "",
            "id": found["Id"] + inputs["name"],
        }

    def image_update(self, state: Mapping[str, Any], inputs: Mapping[str, Any], changes: Diff) -> dict[str, Any]:
        return self.image_create(inputs)  # Update = findImage, then Read

    def image_delete(self, state: Mapping[str, Any]) -> None:
        """`removeImage`: nothing with keep_locally; otherwise ImageRemove by name, errors not filtered."""
        if state.get("keepLocally"):
            return
        self.client.call("DELETE", f"/images/{state['name']}", query={"force": "0"})

    # ------------------------------------------------------------------ docker_volume
    def volume_create(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """resource_docker_volume.go, `resourceDockerVolumeCreate` then `resourceDockerVolumeRead`."""
        if set(inputs) - {"name", "labels"}:
            raise Unmapped(f"Volume inputs {sorted(inputs)} are not modelled")
        labels = {item["label"]: item["value"] for item in inputs.get("labels") or []}
        created = self.client.call("POST", "/volumes/create", body={"Name": inputs["name"], "Labels": labels or None})
        return self.volume_read({"id": created["Name"]})

    def volume_read(self, prior: Mapping[str, Any]) -> dict[str, Any]:
        v = self.client.call("GET", f"/volumes/{prior['id']}")
        labels = [{"label": k, "value": val} for k, val in sorted((v.get("Labels") or {}).items())]
        return {
            "id": v["Name"],
            "name": v["Name"],
            "labels": labels,
            "driver": v["Driver"],
            "mountpoint": v["Mountpoint"],
        }

    def volume_delete(self, state: Mapping[str, Any]) -> None:
        """`resourceDockerVolumeDelete`: forced remove, retried while "volume is in use" (30 s)."""
        deadline = time.monotonic() + 30
        while True:
            try:
                self.client.call("DELETE", f"/volumes/{state['id']}", query={"force": "1"})
                return
            except EngineError as error:
                if "volume is in use" not in error.message or time.monotonic() > deadline:
                    raise ProviderError(f"Error removing volume {state['id']}: {error}") from None
            time.sleep(2)

    # ------------------------------------------------------------------ docker_network
    def network_create(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """resource_docker_network_funcs.go, `resourceDockerNetworkCreate` then its Read."""
        if set(inputs) - {"name", "internal"}:
            raise Unmapped(f"Network inputs {sorted(inputs)} are not modelled")
        body = {
            "Name": inputs["name"],
            "Internal": bool(inputs.get("internal", False)),
            "Attachable": False,
            "Ingress": False,
            "EnableIPv6": False,
            "IPAM": {"Driver": "default"},
        }
        created = self.client.call("POST", "/networks/create", body=body)
        n = self.client.call("GET", f"/networks/{created['Id']}")
        labels = [{"label": k, "value": val} for k, val in sorted((n.get("Labels") or {}).items())]
        return {"id": n["Id"], "name": n["Name"], "internal": n["Internal"], "driver": n["Driver"], "labels": labels}

    def network_delete(self, state: Mapping[str, Any]) -> None:
        """`resourceDockerNetworkDelete`: retried while the network "has active endpoints" (30 s)."""
        deadline = time.monotonic() + 30
        while True:
            try:
                self.client.call("DELETE", f"/networks/{state['id']}")
                return
            except EngineError as error:
                if error.status == 404:
                    return
                if "has active endpoints" not in error.message or time.monotonic() > deadline:
                    raise ProviderError(f"Error removing network {state['id']}: {error}") from None
            time.sleep(2)


def flatten_ports(port_map: Mapping[str, Any]) -> list[dict[str, Any]]:
    """resource_docker_container_structures.go, `flattenContainerPorts`: one entry per binding,
    sorted by port and protocol."""
    out = []
    for key in sorted(port_map, key=lambda k: (int(k.split("/")[0]), k.split("/")[1])):
        internal, protocol = key.split("/")
        for binding in port_map[key] or []:
            out.append(
                {
                    "internal": int(internal),
                    "external": int(binding["HostPort"] or 0),
                    "ip": binding["HostIp"],
                    "protocol": protocol,
                }
            )
    return out


def read_mount(m: Mapping[str, Any]) -> dict[str, Any]:
    """resource_docker_container_structures.go, `getDockerContainerMounts`."""
    if (m.get("VolumeOptions") or {}).get("Labels"):
        raise Unmapped("mount volume labels make the provider's Read fail silently: not modelled")
    mount: dict[str, Any] = {"type": m["Type"], "source": m.get("Source", ""), "target": m["Target"]}
    mount["readOnly"] = bool(m.get("ReadOnly"))
    if m.get("VolumeOptions") is not None:
        mount["volumeOptions"] = {"noCopy": bool(m["VolumeOptions"].get("NoCopy"))}
    return mount
