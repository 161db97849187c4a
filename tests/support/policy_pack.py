"""The policy pack (policy/) as its unit tests drive it (tests/policy/), besides the real engine's
previews with the pack (test_through_the_engine.py):
- each rule's pure function (policy/*_rules.py, listed in policy/rules.py) over the registrations the
  real program makes under mocks, unchanged (they must pass) and with one input changed (it must fail,
  naming the resource and the fix): `check`, `findings`;
- each `ResourceValidationPolicy.validate` of the pack, with `ResourceValidationArgs` built the way the
  analyzer builds them (inputs as the engine sends them: secrets signed, unknowns as sentinels): `sdk_args`.
"""

from __future__ import annotations

import copy
import importlib
import importlib.metadata
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pulumi.runtime import proto
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import unknown_checking_proxy

from tests.support.recorded import ROOT, SECRET_SIG, SIG_KEY, Deployment, Registration, reveal

POLICY_DIR = ROOT / "policy"
rules: Any = importlib.import_module("policy.rules")
subjects: Any = importlib.import_module("policy.subjects")
# protobuf ships no type stubs (and the project installs none): imported untyped, as the analyzer uses it.
json_format: Any = importlib.import_module("google.protobuf.json_format")
struct_pb2: Any = importlib.import_module("google.protobuf.struct_pb2")

IMAGE, VOLUME, CONTAINER = subjects.IMAGE, subjects.VOLUME, subjects.CONTAINER
DOCKER_PROVIDER, REMOTE_COMMAND = subjects.DOCKER_PROVIDER, subjects.REMOTE_COMMAND
DIGEST = "sha256:" + "5e" * 32
PINNED = {"imageDigest": DIGEST, "frontImageDigest": DIGEST, "backupImageDigest": DIGEST}
RESOURCE_NAMES = [rule.name for rule in rules.RULES]
STACK_NAMES = [rule.name for rule in rules.STACK_RULES]
NAMES = RESOURCE_NAMES + STACK_NAMES
RULE: dict[str, Any] = {rule.name: rule for rule in (*rules.RULES, *rules.STACK_RULES)}
POLICY: dict[str, ResourceValidationPolicy] = {p.name: p for p in rules.POLICIES}
LEVEL = {"advisory": proto.ADVISORY, "mandatory": proto.MANDATORY, "disabled": proto.DISABLED}


def engine_config(path: Path | None) -> dict[str, tuple[str, dict[str, Any]]]:
    """policy -> (enforcement level, properties) as the engine sends them for `--policy-pack-config path`.

    Mirrors pulumi's ReconcilePolicyPackConfig (pkg/resource/analyzer/config.go): each policy starts from
    the pack's level (advisory) and its schema's defaults; then the file's "all" level; then per policy,
    a level string or an object of enforcementLevel and properties.
    """
    result = {rule.name: ("advisory", rule.defaults()) for rule in (*rules.RULES, *rules.STACK_RULES)}
    given = json.loads(path.read_text()) if path else {}
    if isinstance(given.get("all"), str):
        result = {name: (given["all"], props) for name, (_, props) in result.items()}
    for name, value in given.items():
        if name == "all":
            continue
        level, props = result.get(name, ("advisory", {}))
        if isinstance(value, str):
            level = value
        else:
            value = dict(value)
            level = value.pop("enforcementLevel", level)
            props = {**props, **value}
        result[name] = (level, props)
    return result


def options(reg: Registration) -> Any:
    return rules.Options(protect=reg.protect, retain_on_delete=reg.retain_on_delete)


def check(name: str, reg: Registration, props: dict[str, Any] | None = None, **config: Any) -> list[str]:
    """Rule `name` on a registration (or on changed inputs of it), with the rule's defaults and `config`."""
    rule = RULE[name]
    return rule.check(
        rules.Subject(
            reg.type, reg.name, reg.plain if props is None else props, options(reg), {**rule.defaults(), **config}
        )
    )


def findings(d: Deployment, config_file: str | None) -> dict[tuple[str, str], list[str]]:
    """(policy, resource) -> messages, every rule the config file leaves on over every registration, with
    its properties."""
    config = engine_config(POLICY_DIR / config_file if config_file else None)
    found = {}
    for reg in d.registrations:
        for rule in rules.RULES:
            if config[rule.name][0] == "disabled":
                continue
            messages = rule.check(rules.Subject(reg.type, reg.name, reg.plain, options(reg), config[rule.name][1]))
            if messages:
                found[(rule.name, reg.name)] = messages
    for stack_rule in rules.STACK_RULES:
        if config[stack_rule.name][0] == "disabled":
            continue
        messages = stack_rule.check(stack_resources(d), config[stack_rule.name][1])
        if messages:
            found[(stack_rule.name, "stack")] = messages
    return found


def stack_resources(d: Deployment) -> list[tuple[str, str, dict[str, Any]]]:
    return [(reg.type, reg.name, reg.plain) for reg in d.registrations]


def changed(reg: Registration, change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    """A copy of the registration's plain inputs, changed in place by `change`."""
    props = copy.deepcopy(reg.plain)
    change(props)
    return props


def assert_names(reg: Registration, messages: list[str]) -> None:
    assert messages
    for message in messages:
        assert f'"{reg.name}"' in message, message


def set_option(option: str, value: str | None) -> Callable[[dict[str, Any]], None]:
    """Replace (or with None remove) an option and its value in the container's command."""

    def change(props: dict[str, Any]) -> None:
        command = props["command"]
        at = command.index(option)
        command[at : at + 2] = [] if value is None else [option, value]

    return change


def publish(ip: str | None) -> Callable[[dict[str, Any]], None]:
    port = {"internal": 8080.0, "external": 8080.0, "protocol": "tcp"} | ({} if ip is None else {"ip": ip})
    return lambda p: p.update(ports=[port])


def struct(value: dict[str, Any]) -> Any:
    return json_format.ParseDict(value, struct_pb2.Struct())


def sdk_args(
    reg: Registration, inputs: dict[str, Any] | None = None, config: dict[str, Any] | None = None
) -> ResourceValidationArgs:
    """ResourceValidationArgs as the analyzer builds them from the engine's request."""
    wire = json_format.MessageToDict(struct(reg.inputs if inputs is None else inputs))
    opts = PolicyResourceOptions(
        protect=reg.protect,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=reg.additional_secret_outputs,
        parent=reg.parent or None,
    )
    return ResourceValidationArgs(
        reg.type, unknown_checking_proxy(deserialize_properties(wire)), reg.urn, reg.name, opts, None, config
    )


def validate(policy: str, args: ResourceValidationArgs) -> list[str]:
    reported: list[str] = []

    def report_violation(message: str, urn: str | None = None) -> None:
        reported.append(message)

    assert POLICY[policy].validate(args, report_violation) is None
    return reported


def secret(value: Any) -> dict[str, Any]:
    return {SIG_KEY: SECRET_SIG, "value": value}


def inputs_with(reg: Registration, change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    inputs = copy.deepcopy(reg.inputs)
    change(inputs)
    return inputs


def unpinned_connection(inputs: dict[str, Any]) -> None:
    connection = reveal(inputs["connection"])
    connection.pop("hostKey")
    inputs["connection"] = secret(connection)  # as the engine sends it: still a secret


# policy -> (resource, a change of its inputs that violates the policy)
