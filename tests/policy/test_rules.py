"""The policy pack (policy/): each rule passes what the program registers and refuses a violating resource.

No Pulumi CLI runs here, so the pack is exercised three ways:
- each rule's pure function (policy/*_rules.py, listed in policy/rules.py) over the registrations the
  real program makes under mocks, unchanged (they must pass) and with one input changed (it must fail, naming the resource and the fix);
- each `ResourceValidationPolicy.validate` of the pack, with `ResourceValidationArgs` built the way the
  analyzer builds them (inputs as the engine sends them: secrets signed, unknowns as sentinels);
- the SDK's analyzer servicer itself (the object `PolicyPack` serves over gRPC, without the server),
  configured from policy/production.json as the engine would, then asked to analyze each resource.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import importlib.metadata
import json
import runpy
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import pulumi_policy
import pytest
import yaml
from pulumi.runtime import proto
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.policy import _PolicyAnalyzerServicer
from pulumi_policy.proxy import UNKNOWN_ARRAY_VALUE, UNKNOWN_STRING_VALUE, unknown_checking_proxy
from test_program import PASSWORDS, REMOTE_OVERRIDES, deploy

from recorded import ROOT, SECRET_SIG, SIG_KEY, Deployment, Registration, reveal

POLICY_DIR = ROOT / "policy"
# The analyzer runs the pack with its own directory first on sys.path; policy/ is not a package.
sys.path.insert(0, str(POLICY_DIR))
rules: Any = importlib.import_module("rules")
subjects: Any = importlib.import_module("subjects")
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


@pytest.fixture(scope="module")
def production() -> Deployment:
    """Production as it must be deployed: the committed config, a real host, and both digests pinned."""
    return deploy("production", **PINNED)


@pytest.fixture(scope="module")
def staging() -> Deployment:
    return deploy("staging")


@pytest.fixture(scope="module")
def dev() -> Deployment:
    return deploy("dev")


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
    """(policy, resource) -> messages, every rule over every registration, with a config file's properties."""
    config = engine_config(POLICY_DIR / config_file if config_file else None)
    found = {}
    for reg in d.registrations:
        for rule in rules.RULES:
            messages = rule.check(rules.Subject(reg.type, reg.name, reg.plain, options(reg), config[rule.name][1]))
            if messages:
                found[(rule.name, reg.name)] = messages
    for stack_rule in rules.STACK_RULES:
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


# --- whole stacks -----------------------------------------------------------------------------------------


def test_production_passes_every_rule(production):
    assert findings(production, "production.json") == {}


def test_production_without_digests_fails_only_the_image_rule():
    found = findings(deploy("production"), "production.json")
    assert set(found) == {
        ("image-pinned", "pypi-image"),
        ("image-pinned", "pypi-front-image"),
        ("image-pinned", "pypi-backup-image"),
    }
    assert "pulumi config set backupImageDigest sha256:" in found[("image-pinned", "pypi-backup-image")][0]
    assert "pulumi config set imageDigest sha256:" in found[("image-pinned", "pypi-image")][0]
    assert "pulumi config set frontImageDigest sha256:" in found[("image-pinned", "pypi-front-image")][0]


def test_staging_passes_every_rule_without_digests(staging):
    assert findings(staging, "staging.json") == {}


def test_dev_shows_what_it_gives_up(dev):
    # No config file for dev: the pack's defaults, advisory. Dev has no passwords and an unprotected volume.
    assert set(findings(dev, None)) == {
        ("auth-protects-all-actions", "pypi-container"),
        ("package-volume-protected", "pypi-packages"),
    }


# --- image-pinned -----------------------------------------------------------------------------------------


def test_image_pinned_passes(production, staging):
    for name in ("pypi-image", "pypi-front-image"):
        assert check("image-pinned", production.named(name), requireDigest=True) == []
        assert check("image-pinned", staging.named(name)) == []
    for container in production.of_type(CONTAINER):
        assert container.plain["image"].startswith("sha256:")  # an image ID: content-addressed
        assert check("image-pinned", container, requireDigest=True) == []


@pytest.mark.parametrize(
    ("resource", "ref", "config", "expected"),
    [
        ("pypi-image", "pypiserver/pypiserver:latest", {}, 'floating tag "latest"'),
        ("pypi-image", "pypiserver/pypiserver:v2.4", {}, "pulumi config set imageTag v2.4.1"),
        ("pypi-image", "pypiserver/pypiserver", {}, "without a tag"),
        ("pypi-image", "registry.example:5000/pypiserver/pypiserver", {}, "without a tag"),
        ("pypi-image", "pypiserver/pypiserver:v2.4.1@sha256:abc", {}, "malformed digest"),
        ("pypi-image", "pypiserver/pypiserver:v2.4.1", {"requireDigest": True}, "pulumi config set imageDigest"),
        ("pypi-front-image", "caddy:2", {}, "pulumi config set frontImageTag 2.11.7"),
        ("pypi-front-image", "caddy:2.11.7", {"requireDigest": True}, "pulumi config set frontImageDigest"),
    ],
)
def test_image_pinned_refuses(staging, resource, ref, config, expected):
    reg = staging.named(resource)
    messages = check("image-pinned", reg, changed(reg, lambda p: p.update(name=ref)), **config)
    assert_names(reg, messages)
    assert any(expected in m for m in messages), messages


def test_image_pinned_checks_a_container_given_a_reference(staging):
    reg = staging.named("pypi-container")
    messages = check("image-pinned", reg, changed(reg, lambda p: p.update(image="pypiserver/pypiserver:latest")))
    assert_names(reg, messages)
    assert check("image-pinned", reg, changed(reg, lambda p: p.update(image=subjects.UNKNOWN))) == []


# --- auth-protects-all-actions ----------------------------------------------------------------------------


def set_option(option: str, value: str | None) -> Callable[[dict[str, Any]], None]:
    """Replace (or with None remove) an option and its value in the container's command."""

    def change(props: dict[str, Any]) -> None:
        command = props["command"]
        at = command.index(option)
        command[at : at + 2] = [] if value is None else [option, value]

    return change


def test_auth_passes(production, staging):
    for d in (production, staging):
        assert check("auth-protects-all-actions", d.named("pypi-container")) == []
    reg = staging.named("pypi-container")
    for command in (
        ["run", "--authenticate=update,download,list", "--passwords=/data/auth/.htpasswd"],
        ["run", "-a", "list,download,update", "-P", "/data/auth/.htpasswd"],
        ["run", "-alist,download,update", "-P/data/auth/.htpasswd"],
    ):
        assert check("auth-protects-all-actions", reg, {**reg.plain, "command": command}) == []
    # The front server and the indexer are not pypiserver: no such arguments to check.
    for name in ("pypi-front", "pypi-indexer"):
        assert check("auth-protects-all-actions", staging.named(name)) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (set_option("--authenticate", "update"), "lets anyone download, list"),
        (set_option("--authenticate", "update,list"), "lets anyone download"),
        (set_option("--authenticate", "."), "lets anyone update, download, list"),
        (set_option("--authenticate", None), "lets anyone download, list"),  # pypiserver's default: update
        (lambda p: p["command"].extend(["--auth", "."]), "lets anyone update, download, list"),  # the last wins
        (set_option("--passwords", "."), "no password file"),
        (set_option("--passwords", None), "no password file"),
        (lambda p: p.pop("command"), "lets anyone download, list"),  # the image's default command
    ],
)
def test_auth_refuses(staging, change, expected):
    reg = staging.named("pypi-container")
    messages = check("auth-protects-all-actions", reg, changed(reg, change))
    assert_names(reg, messages)
    assert any(expected in m for m in messages), messages
    assert any("pulumi config" in m for m in messages)


def test_auth_finds_pypiserver_by_its_arguments_or_configured_name(staging, dev):
    reg = dev.named("pypi-container")
    renamed = changed(reg, lambda p: p.update(name="index"))
    assert check("auth-protects-all-actions", reg, renamed)  # `--authenticate .`: still pypiserver
    bare = changed(reg, lambda p: p.update(name="index", command=["run"]))
    assert check("auth-protects-all-actions", reg, bare) == []
    assert check("auth-protects-all-actions", reg, bare, indexContainerNames=["index"])


# --- ssh-host-key-pinned ----------------------------------------------------------------------------------


def with_ssh_opts(change: Callable[[list[str]], object]) -> Callable[[dict[str, Any]], None]:
    def apply(props: dict[str, Any]) -> None:
        opts = json.loads(props["sshOpts"])  # JSON-encoded, as the engine sees provider config
        change(opts)
        props["sshOpts"] = json.dumps(opts)

    return apply


def prepend(*opts: str) -> Callable[[list[str]], None]:
    """Options given first: for each key, ssh uses the first value it reads."""
    return lambda existing: existing.__setitem__(slice(0, 0), list(opts))


def drop_option(name: str) -> Callable[[list[str]], None]:
    def change(opts: list[str]) -> None:
        at = next(i for i, o in enumerate(opts) if o.startswith(name + "="))
        del opts[at - 1 : at + 1]

    return change


def test_host_key_passes(production, staging, dev):
    for d in (production, staging):
        for reg in [d.one(DOCKER_PROVIDER), *d.of_type(REMOTE_COMMAND)]:
            assert check("ssh-host-key-pinned", reg) == [], reg.name
    assert check("ssh-host-key-pinned", dev.one(DOCKER_PROVIDER)) == []  # the local engine: no SSH
    reg = staging.one(DOCKER_PROVIDER)
    as_list = changed(reg, lambda p: p.update(sshOpts=json.loads(p["sshOpts"])))
    assert check("ssh-host-key-pinned", reg, as_list) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (with_ssh_opts(prepend("-o", "StrictHostKeyChecking=no")), "StrictHostKeyChecking=no"),
        (with_ssh_opts(prepend("-oStrictHostKeyChecking accept-new")), "accept-new"),
        (with_ssh_opts(drop_option("StrictHostKeyChecking")), "StrictHostKeyChecking=unset"),
        (with_ssh_opts(drop_option("KnownHostsCommand")), "no KnownHostsCommand"),
        (
            with_ssh_opts(prepend("-o", "UserKnownHostsFile=~/.ssh/known_hosts")),
            "UserKnownHostsFile=~/.ssh/known_hosts",
        ),
        (with_ssh_opts(drop_option("GlobalKnownHostsFile")), "GlobalKnownHostsFile=unset"),
        (lambda p: p.pop("sshOpts"), "StrictHostKeyChecking=unset"),
    ],
)
def test_host_key_refuses_a_docker_provider(staging, change, expected):
    reg = staging.one(DOCKER_PROVIDER)
    messages = check("ssh-host-key-pinned", reg, changed(reg, change))
    assert_names(reg, messages)
    assert any(expected in m for m in messages), messages


@pytest.mark.parametrize(
    "change",
    [
        lambda c: c.pop("hostKey"),
        lambda c: c.update(hostKey=""),
        lambda c: c.update(hostKey="AAAAC3NzaC1lZDI1NTE5AAAA"),
        lambda c: c.update(proxy={"host": "bastion.example", "user": "jump"}),  # the proxy hop is not pinned
    ],
)
def test_host_key_refuses_a_remote_command(staging, change):
    reg = staging.named("pypi-health")
    messages = check("ssh-host-key-pinned", reg, changed(reg, lambda p: change(p["connection"])))
    assert_names(reg, messages)
    for message in messages:  # `connection` is secret: nothing from it is repeated
        assert "pypi.internal.example" not in message and "bastion" not in message and "deploy" not in message


def test_host_key_refuses_the_insecure_opt_out_on_both_paths():
    d = deploy("staging", sshHostKey="", insecureSkipHostKeyCheck="true")
    refused = {name for (policy, name) in findings(d, "staging.json") if policy == "ssh-host-key-pinned"}
    assert refused == {d.one(DOCKER_PROVIDER).name, *(c.name for c in d.of_type(REMOTE_COMMAND))}


# --- package-volume-protected -----------------------------------------------------------------------------


def test_package_volume_passes(production, staging):
    for d in (production, staging):
        reg = d.named("pypi-packages")
        assert reg.protect and reg.retain_on_delete
        assert check("package-volume-protected", reg) == []
    for volume in staging.of_type(VOLUME):  # the other volumes are re-derived or re-issued
        if volume.name != "pypi-packages":
            assert (
                rules.package_volume_protected(rules.Subject(VOLUME, volume.name, volume.plain, rules.Options())) == []
            )


@pytest.mark.parametrize(
    ("protect", "retain", "expected"),
    [
        (False, True, ["not protected"]),
        (True, False, ["not retained"]),
        (False, False, ["not protected", "not retained"]),
    ],
)
def test_package_volume_refuses(production, protect, retain, expected):
    reg = production.named("pypi-packages")
    messages = rules.package_volume_protected(
        rules.Subject(VOLUME, reg.name, reg.plain, rules.Options(protect, retain))
    )
    assert_names(reg, messages)
    assert [e for e in expected if any(e in m for m in messages)] == expected
    assert all("pulumi config set protectPackages true" in m for m in messages)


def test_package_volume_is_found_by_label_or_name_and_retain_is_unchecked_when_unseen(production):
    reg = production.named("pypi-packages")
    unlabelled = changed(reg, lambda p: p.pop("labels"))
    assert rules.package_volume_protected(rules.Subject(VOLUME, reg.name, unlabelled, rules.Options(protect=False)))
    # Through the SDK, retainOnDelete is not visible (None): only `protect` is checked.
    assert rules.package_volume_protected(rules.Subject(VOLUME, reg.name, reg.plain, rules.Options(protect=True))) == []
    front_data = production.named("pypi-front-data")
    assert rules.package_volume_protected(
        rules.Subject(VOLUME, front_data.name, front_data.plain, rules.Options(), {"roles": ["front-data"]})
    )


# --- index-not-public-without-tls -------------------------------------------------------------------------


def publish(ip: str | None) -> Callable[[dict[str, Any]], None]:
    port = {"internal": 8080.0, "external": 8080.0, "protocol": "tcp"} | ({} if ip is None else {"ip": ip})
    return lambda p: p.update(ports=[port])


def test_plain_http_index_is_not_public(production, staging, dev):
    for d in (production, staging, dev):
        for reg in d.of_type(CONTAINER):
            assert check("index-not-public-without-tls", reg) == [], reg.name
    front = production.named("pypi-front")
    assert {p["ip"] for p in front.plain["ports"]} == {"0.0.0.0"}, "the TLS front server is the one on all interfaces"
    reg = staging.named("pypi-container")
    assert "ports" not in reg.plain, "pypiserver is on the internal network only"
    for ip in ("127.0.0.1", "10.0.0.5", "::1"):
        assert check("index-not-public-without-tls", reg, changed(reg, publish(ip))) == []


@pytest.mark.parametrize(
    "change", [publish("0.0.0.0"), publish("::"), publish(""), publish(None), lambda p: p.update(networkMode="host")]
)
def test_plain_http_index_published_everywhere_is_refused(staging, change):
    reg = staging.named("pypi-container")
    messages = check("index-not-public-without-tls", reg, changed(reg, change))
    assert_names(reg, messages)
    assert all("TLS front server" in m for m in messages)


def test_which_containers_are_the_plain_http_index_is_configurable(staging):
    reg = staging.named("pypi-indexer")  # pypiserver's image, not pypiserver: not checked by default
    published = changed(reg, publish("0.0.0.0"))
    assert check("index-not-public-without-tls", reg, published) == []
    assert check("index-not-public-without-tls", reg, published, indexContainerNames=["pypiserver-indexer"])


# --- container-unprivileged -------------------------------------------------------------------------------


def test_containers_are_unprivileged(production, staging):
    for d in (production, staging):
        for reg in d.of_type(CONTAINER):
            assert check("container-unprivileged", reg) == [], reg.name
    # What passes on purpose: root without any capability, and a default capability added back.
    assert staging.named("pypi-indexer").plain["user"] == "0:0"
    assert staging.named("pypi-front").plain["capabilities"] == {"drops": ["ALL"], "adds": ["CAP_NET_BIND_SERVICE"]}


@pytest.mark.parametrize(
    ("resource", "change", "expected"),
    [
        ("pypi-container", lambda p: p.update(privileged=True), "is privileged"),
        ("pypi-front", lambda p: p["capabilities"]["adds"].append("SYS_ADMIN"), "SYS_ADMIN"),
        ("pypi-container", lambda p: p.update(capabilities={"adds": ["ALL"]}), "capabilities ALL"),
        ("pypi-container", lambda p: p.update(securityOpts=[]), "no-new-privileges"),
        ("pypi-container", lambda p: p["securityOpts"].append("seccomp=unconfined"), "seccomp=unconfined"),
        ("pypi-indexer", lambda p: p.pop("capabilities"), "runs as root"),
        ("pypi-container", lambda p: p.update(user="root"), "runs as root"),
    ],
)
def test_privileged_containers_are_refused(staging, resource, change, expected):
    reg = staging.named(resource)
    messages = check("container-unprivileged", reg, changed(reg, change))
    assert_names(reg, messages)
    assert any(expected in m for m in messages), messages


# --- container-memory-limit -------------------------------------------------------------------------------


def test_containers_have_a_memory_limit(production, dev):
    for d in (production, dev):
        for reg in d.of_type(CONTAINER):
            assert check("container-memory-limit", reg) == [], reg.name


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda p: p.pop("memory"), "pulumi config set memoryMb"),
        (lambda p: p.update(memory=0.0), "pulumi config set memoryMb"),
    ],
)
def test_containers_without_a_memory_limit_are_refused(staging, change, expected):
    reg = staging.named("pypi-container")
    messages = check("container-memory-limit", reg, changed(reg, change))
    assert_names(reg, messages)
    assert any(expected in m for m in messages), messages


# --- through the SDK: ResourceValidationPolicy.validate ---------------------------------------------------


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
SDK_CASES: dict[str, tuple[str, Callable[[dict[str, Any]], object]]] = {
    "image-pinned": ("pypi-image", lambda i: i.update(name="pypiserver/pypiserver:latest")),
    "auth-protects-all-actions": ("pypi-container", set_option("--authenticate", "update")),
    "ssh-host-key-pinned": ("pypi-health", unpinned_connection),
    "package-volume-protected": ("pypi-packages", lambda i: None),  # made unprotected below
    "index-not-public-without-tls": ("pypi-container", publish("0.0.0.0")),
    "container-unprivileged": ("pypi-front", lambda i: i.update(privileged=True)),
    "container-memory-limit": ("pypi-front", lambda i: i.pop("memory")),
}


def test_every_policy_has_an_sdk_case():
    assert set(SDK_CASES) == set(RESOURCE_NAMES) and set(POLICY) == set(NAMES)


@pytest.mark.parametrize("policy", RESOURCE_NAMES)
def test_each_policy_through_the_sdk(production, policy):
    config = engine_config(POLICY_DIR / "production.json")[policy][1]
    resource, change = SDK_CASES[policy]
    reg = production.named(resource)
    for other in production.registrations:  # every policy sees every resource, as in a deployment
        assert validate(policy, sdk_args(other, config=config)) == [], (policy, other.name)
    if policy == "package-volume-protected":
        reg = dataclasses.replace(reg, protect=False)
    reported = validate(policy, sdk_args(reg, inputs_with(reg, change), config))
    assert_names(reg, reported)


def test_secret_inputs_reach_policies_unwrapped_and_are_not_repeated(production):
    reg = production.named("pypi-htpasswd")
    assert reg.inputs["connection"][SIG_KEY] == SECRET_SIG and reg.inputs["stdin"][SIG_KEY] == SECRET_SIG
    args = sdk_args(reg)
    assert args.props["connection"]["hostKey"] == REMOTE_OVERRIDES["sshHostKey"]  # plain, not a Secret
    reported = validate("ssh-host-key-pinned", sdk_args(reg, inputs_with(reg, unpinned_connection)))
    htpasswd = reveal(reg.inputs["stdin"])
    for message in reported:
        assert "pypi.internal.example" not in message and htpasswd not in message
        assert not any(pw in message for pw in PASSWORDS.values())


def test_unknown_values_during_preview_are_skipped_not_reported(staging):
    # In a preview, values computed from other resources (the image ID) or not yet known are sentinels.
    reg = staging.named("pypi-container")
    inputs = inputs_with(
        reg, lambda i: i.update(image=UNKNOWN_STRING_VALUE, ports=UNKNOWN_ARRAY_VALUE, command=UNKNOWN_ARRAY_VALUE)
    )
    for policy in RESOURCE_NAMES:
        assert validate(policy, sdk_args(reg, inputs)) == [], policy
    provider = staging.one(DOCKER_PROVIDER)
    unknown_opts = inputs_with(provider, lambda i: i.update(sshOpts=UNKNOWN_STRING_VALUE))
    assert validate("ssh-host-key-pinned", sdk_args(provider, unknown_opts)) == []


# --- through the SDK's analyzer, configured as the engine configures it -----------------------------------


def analyzer(config_file: str | None) -> _PolicyAnalyzerServicer:
    servicer = _PolicyAnalyzerServicer(rules.PACK_NAME, "0.1.0", rules.POLICIES, EnforcementLevel.ADVISORY)
    config = engine_config(POLICY_DIR / config_file if config_file else None)
    servicer.Configure(
        proto.ConfigureAnalyzerRequest(
            policyConfig={
                name: proto.PolicyConfig(enforcementLevel=LEVEL[level], properties=struct(props))
                for name, (level, props) in config.items()
            }
        ),
        None,
    )
    return servicer


def diagnostics(servicer: _PolicyAnalyzerServicer, d: Deployment) -> list[tuple[str, str, int, str]]:
    found = []
    for reg in d.registrations:
        request = proto.AnalyzeRequest(
            type=reg.type,
            urn=reg.urn,
            name=reg.name,
            properties=struct(reg.inputs),
            options=proto.AnalyzerResourceOptions(protect=reg.protect, parent=reg.parent),
        )
        response = servicer.Analyze(request, None)
        found += [(diag.policyName, reg.name, diag.enforcementLevel, diag.message) for diag in response.diagnostics]
    stack = servicer.AnalyzeStack(
        proto.AnalyzeStackRequest(
            resources=[
                proto.AnalyzerResource(
                    type=reg.type, urn=reg.urn, name=reg.name, properties=struct(reg.inputs), parent=reg.parent
                )
                for reg in d.registrations
            ]
        ),
        None,
    )
    found += [(diag.policyName, "stack", diag.enforcementLevel, diag.message) for diag in stack.diagnostics]
    return found


def test_analyzer_with_production_config_blocks_unpinned_images():
    found = diagnostics(analyzer("production.json"), deploy("production"))
    assert sorted((p, n, level) for p, n, level, _ in found) == [
        ("image-pinned", "pypi-backup-image", proto.MANDATORY),
        ("image-pinned", "pypi-front-image", proto.MANDATORY),
        ("image-pinned", "pypi-image", proto.MANDATORY),
    ]
    assert all("pulumi config set" in message and "digest" in message for *_, message in found)


def test_analyzer_with_production_config_passes_production(production):
    assert diagnostics(analyzer("production.json"), production) == []


def test_analyzer_without_config_is_advisory_and_cannot_see_retain_on_delete(dev):
    found = diagnostics(analyzer(None), dev)
    assert {(p, n, level) for p, n, level, _ in found} == {
        ("auth-protects-all-actions", "pypi-container", proto.ADVISORY),
        ("package-volume-protected", "pypi-packages", proto.ADVISORY),
    }
    volume = [m for p, _, _, m in found if p == "package-volume-protected"]
    assert len(volume) == 1 and "not protected" in volume[0], "retainOnDelete is not visible to a policy"


def test_analyzer_info_lists_every_policy_as_advisory_by_default():
    info = _PolicyAnalyzerServicer(rules.PACK_NAME, "0.1.0", rules.POLICIES, EnforcementLevel.ADVISORY).GetAnalyzerInfo(
        None, None
    )
    assert info.name == rules.PACK_NAME and info.supportsConfig
    assert [p.name for p in info.policies] == NAMES
    assert {p.enforcementLevel for p in info.policies} == {proto.ADVISORY}
    schema = {p.name: json_format.MessageToDict(p.configSchema) for p in info.policies}
    assert schema["image-pinned"]["properties"]["requireDigest"]["default"] is False


# --- config files, the pack's files -----------------------------------------------------------------------


@pytest.mark.parametrize(("config_file", "level"), [("production.json", "mandatory"), ("staging.json", "advisory")])
def test_config_file_sets_every_policy_and_only_policies_of_the_pack(config_file, level):
    given = json.loads((POLICY_DIR / config_file).read_text())
    assert set(given) == set(NAMES), "a misspelt name is silently ignored by the engine"
    for name, value in given.items():
        if isinstance(value, dict):
            # The engine validates the properties against the policy's schema; so do we, by type.
            props = {k: v for k, v in value.items() if k != "enforcementLevel"}
            schema = RULE[name].config
            for key, val in props.items():
                assert key in schema, (name, key)
                expected = {"boolean": bool, "array": list, "integer": int, "string": str}[schema[key]["type"]]
                assert isinstance(val, expected), (name, key)
    assert {lvl for lvl, _ in engine_config(POLICY_DIR / config_file).values()} == {level}


def test_production_requires_digests_and_staging_does_not():
    assert engine_config(POLICY_DIR / "production.json")["image-pinned"][1]["requireDigest"] is True
    assert engine_config(POLICY_DIR / "staging.json")["image-pinned"][1]["requireDigest"] is False


def test_policies_are_named_uniquely_and_described():
    assert len(NAMES) == len(set(NAMES)) == 8
    for policy in rules.POLICIES:
        assert policy.description and policy.enforcement_level is None, "the pack's default or the config decides"


def test_main_builds_only_the_policy_pack(capsys):
    built: list[dict[str, Any]] = []
    with mock.patch.object(pulumi_policy, "PolicyPack", side_effect=lambda **kwargs: built.append(kwargs)):
        runpy.run_path(str(POLICY_DIR / "__main__.py"), run_name="__main__")
    assert capsys.readouterr() == ("", ""), "the engine reads the analyzer's port from stdout: nothing else goes there"
    assert len(built) == 1
    pack = built[0]
    assert pack["name"] == rules.PACK_NAME and pack["enforcement_level"] == EnforcementLevel.ADVISORY
    assert [p.name for p in pack["policies"]] == NAMES


def test_rules_import_without_starting_a_server_or_the_providers_sdks():
    # PolicyPack(...) serves forever; rules.py must import, and its interpreter exit, without one. The
    # pack's own environment has pulumi and pulumi-policy only: what it reads of the program
    # (program_facts.py) must import without the providers' SDKs, here made unimportable.
    blocked = "import sys; sys.modules.update(pulumi_docker=None, pulumi_command=None); "
    result = subprocess.run(
        [sys.executable, "-c", blocked + "import rules; print(len(rules.POLICIES))"],
        cwd=POLICY_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0 and result.stdout == "8\n", result.stderr[-2000:]


def test_pack_project_and_requirements():
    project = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python" and project["runtime"]["options"]["virtualenv"] == "venv"
    assert project["description"]
    pins = dict(
        line.split("==")
        for line in (POLICY_DIR / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    assert pins["pulumi-policy"] == importlib.metadata.version("pulumi-policy")
    root = (ROOT / "requirements.txt").read_text()
    assert f"pulumi=={pins['pulumi']}" in root.splitlines(), "the pack and the program use the same pulumi"


def test_pack_serves_the_analyzer_protocol(staging):
    """The pack as the engine starts it: its port on stdout, then GetAnalyzerInfo, Configure and Analyze."""
    grpc = importlib.import_module("grpc")
    empty_pb2: Any = importlib.import_module("google.protobuf.empty_pb2")
    analyzer_grpc: Any = importlib.import_module("pulumi.runtime.proto.analyzer_pb2_grpc")
    pack = subprocess.Popen(
        [sys.executable, "-u", "__main__.py"], cwd=POLICY_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    watchdog = threading.Timer(120, pack.kill)  # never left serving if something below hangs
    watchdog.start()
    try:
        assert pack.stdout is not None
        port = int(pack.stdout.readline())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            client = analyzer_grpc.AnalyzerStub(channel)
            info = client.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
            assert [p.name for p in info.policies] == NAMES
            config = engine_config(POLICY_DIR / "production.json")
            client.Configure(
                proto.ConfigureAnalyzerRequest(
                    policyConfig={
                        name: proto.PolicyConfig(enforcementLevel=LEVEL[level], properties=struct(props))
                        for name, (level, props) in config.items()
                    }
                ),
                timeout=30,
            )
            reg = staging.named("pypi-container")
            request = proto.AnalyzeRequest(
                type=reg.type,
                urn=reg.urn,
                name=reg.name,
                properties=struct(inputs_with(reg, lambda i: i.update(privileged=True))),
                options=proto.AnalyzerResourceOptions(),
            )
            found = client.Analyze(request, timeout=30).diagnostics
            assert [(d.policyName, d.enforcementLevel) for d in found] == [("container-unprivileged", proto.MANDATORY)]
            assert '"pypi-container"' in found[0].message
    finally:
        pack.terminate()
        pack.wait(timeout=30)
        watchdog.cancel()


# --- backups-scheduled (a stack policy) -------------------------------------------------------------------


def test_a_remote_package_store_without_scheduled_backups_is_reported(production, dev):
    assert rules.backups_scheduled(stack_resources(production)) == []
    assert rules.backups_scheduled(stack_resources(dev)) == [], "the local engine has no systemd timer to run"
    unbacked = deploy("staging", backupRepository=None, backupPassword=None, backupSshKey=None, backupSshHostKey=None)
    (message,) = rules.backups_scheduled(stack_resources(unbacked))
    assert 'Volume "pypi-packages"' in message and "Set backupRepository" in message


def test_backups_scheduled_through_the_sdk_and_the_production_analyzer(production):
    unbacked = deploy("staging", backupRepository=None, backupPassword=None, backupSshKey=None, backupSshHostKey=None)
    policy = POLICY["backups-scheduled"]
    assert isinstance(policy, pulumi_policy.StackValidationPolicy)
    config = engine_config(POLICY_DIR / "production.json")["backups-scheduled"][1]

    def reported(d: Deployment) -> list[str]:
        messages: list[str] = []
        resources = [
            pulumi_policy.PolicyResource(reg.type, reveal(reg.inputs), reg.urn, reg.name, None, None, None, [], {})
            for reg in d.registrations
        ]
        policy.validate(pulumi_policy.StackValidationArgs(resources, config), lambda m, urn=None: messages.append(m))
        return messages

    assert reported(production) == []
    assert len(reported(unbacked)) == 1
    found = diagnostics(analyzer("production.json"), unbacked)
    assert ("backups-scheduled", "stack", proto.MANDATORY) in {(p, n, level) for p, n, level, _ in found}
