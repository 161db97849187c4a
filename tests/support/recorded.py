"""Run the real program under Pulumi's mocks and record what it registers.

Each registration keeps what the engine would receive: type, name, parent, provider, dependencies,
protect/retain flags and the inputs, with secret values still wrapped as secrets. The mocks tests
assert on that graph; what a deploy does is the real engine's to show (tests/support/engine.py).
"""

from __future__ import annotations

import base64
import hashlib
import runpy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "pypi-index"
SECRET_SIG = rpc._special_secret_sig
SIG_KEY = rpc._special_sig_key
# Resource types as the engine names them.
IMAGE = "docker:index/remoteImage:RemoteImage"
VOLUME = "docker:index/volume:Volume"
CONTAINER = "docker:index/container:Container"
REMOTE_COMMAND = "command:remote:Command"
LOCAL_COMMAND = "command:local:Command"
DOCKER_PROVIDER = "pulumi:providers:docker"


def is_secret_value(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG


def reveal(value: Any) -> Any:
    """The value with every secret wrapper removed (what a provider would receive, decrypted)."""
    if is_secret_value(value):
        return reveal(value["value"])
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


def clear_parts(value: Any) -> Any:
    """The value with every secret replaced by a marker: what may be shown or stored in clear."""
    if is_secret_value(value):
        return "[secret]"
    if isinstance(value, dict):
        return {k: clear_parts(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clear_parts(v) for v in value]
    return value


@dataclass
class Registration:
    type: str
    name: str
    urn: str
    parent: str
    provider: str
    inputs: dict[str, Any]
    dependencies: list[str]
    protect: bool
    retain_on_delete: bool
    additional_secret_outputs: list[str]
    id: str = ""
    replace_on_changes: list[str] = field(default_factory=list)
    delete_before_replace: bool | None = None
    """The resource option, when the program set it (None: the provider decides)."""
    ignore_changes: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)

    @property
    def plain(self) -> dict[str, Any]:
        return reveal(self.inputs)


@dataclass
class Deployment:
    stack: str
    registrations: list[Registration] = field(default_factory=list)
    exports: dict[str, Any] = field(default_factory=dict)
    secret_exports: set[str] = field(default_factory=set)

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_]

    def one(self, type_: str, name: str | None = None) -> Registration:
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {type_} {name or ''}, found {[r.name for r in found]}"
        return found[0]

    def by_urn(self, urn: str) -> Registration:
        return next(r for r in self.registrations if r.urn == urn)

    def named(self, name: str) -> Registration:
        return next(r for r in self.registrations if r.name == name)


def fake_image_id(image_name: str) -> str:
    """The image ID the mocks give a RemoteImage."""
    return "sha256:" + hashlib.sha256(image_name.encode()).hexdigest()


def _fake_id(type_: str, name: str) -> str:
    return hashlib.sha256(f"{type_}::{name}".encode()).hexdigest()[:16]


def fake_salt_key(stack: str) -> str:
    """The salt key the mocks give a stack (a real `pulumi up` makes 32 random bytes once)."""
    return base64.b64encode(hashlib.sha256(f"salt key of {stack}".encode()).digest()).decode()


class _Mocks(pulumi.runtime.Mocks):
    """Deterministic outputs: the same program with the same config registers the same values.

    In a preview, a command's stdout is unknown, as the engine reports it for a command still to be
    created (pulumi-command runs nothing at preview)."""

    def __init__(self, salt_key: str, preview: bool):
        self.salt_key = salt_key
        self.preview = preview

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        from components.pypiserver.salt_key import SALT_KEY

        state = dict(args.inputs)
        if args.typ == IMAGE:
            name = reveal(args.inputs.get("name", ""))
            state["imageId"] = fake_image_id(name)
            state["repoDigest"] = name
        if args.typ == CONTAINER:
            state.setdefault("networkDatas", [])
        if args.typ.startswith("command:"):
            state.setdefault("stdout", rpc.UNKNOWN if self.preview else "")
            state.setdefault("stderr", "")
        if args.typ == LOCAL_COMMAND and args.name == SALT_KEY and not self.preview:
            state["stdout"] = self.salt_key
        return _fake_id(args.typ, args.name), state

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: _Mocks, deployment: Deployment):
        super().__init__(mocks)
        self.deployment = deployment

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.deployment.registrations.append(
                Registration(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    parent=request.parent,
                    provider=request.provider,
                    inputs=rpc.deserialize_properties(request.object),
                    dependencies=list(request.dependencies),
                    protect=bool(request.protect),
                    retain_on_delete=bool(request.retainOnDelete),
                    additional_secret_outputs=list(request.additionalSecretOutputs),
                    id=response.id,
                    replace_on_changes=list(request.replaceOnChanges),
                    delete_before_replace=request.deleteBeforeReplace if request.deleteBeforeReplaceDefined else None,
                    ignore_changes=list(request.ignoreChanges),
                    property_dependencies={key: list(deps.urns) for key, deps in request.propertyDependencies.items()},
                )
            )
        return response


def run_program(
    stack: str,
    config: Mapping[str, Any],
    secret_keys: tuple[str, ...] | None = None,
    *,
    salt_key: str | None = None,
    preview: bool = False,
) -> Deployment:
    """Run __main__.py as `pulumi up` would for `stack`, with `config` (keys without the project prefix).

    `secret_keys`: the keys set with `--secret`; by default, every key that may hold a secret
    (settings.SECRET_KEYS) and is present. `salt_key`: what the stack's salt key command printed
    (by default fake_salt_key). `preview`: as `pulumi preview` of a new stack would run it.
    """
    from components.settings import SECRET_KEYS

    if secret_keys is None:
        secret_keys = tuple(k for k in SECRET_KEYS if k in config)
    deployment = Deployment(stack=stack)
    mocks = _Mocks(fake_salt_key(stack) if salt_key is None else salt_key, preview)
    pulumi.runtime.set_mocks(
        mocks, project=PROJECT, stack=stack, preview=preview, monitor=_RecordingMonitor(mocks, deployment)
    )
    pulumi.runtime.set_all_config(
        {f"{PROJECT}:{k}": v if isinstance(v, str) else _json(v) for k, v in config.items()},
        [f"{PROJECT}:{k}" for k in secret_keys],
    )
    exported: dict[str, Any] = {}

    def export(name: str, value: Any) -> None:
        exported[name] = value

    async def resolve() -> None:
        for name, value in exported.items():
            out = pulumi.Output.from_input(value)
            deployment.exports[name] = await out.future()
            if await out.is_secret():
                deployment.secret_exports.add(name)

    @pulumi.runtime.test
    def program():
        with mock.patch.object(pulumi, "export", export):
            runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
        return resolve()

    program()
    return deployment


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


def stack_config(stack: str) -> dict[str, Any]:
    """The committed config/Pulumi.<stack>.yaml, keys without the project prefix."""
    import yaml

    data = yaml.safe_load((ROOT / "config" / f"Pulumi.{stack}.yaml").read_text()) or {}
    return {k.split(":", 1)[1]: v for k, v in (data.get("config") or {}).items()}
