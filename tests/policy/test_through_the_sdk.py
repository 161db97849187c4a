"""Every policy through the SDK: ResourceValidationPolicy.validate with arguments built as the analyzer
builds them, and the analyzer servicer configured as the engine configures it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from pulumi.runtime import proto
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer
from pulumi_policy.proxy import UNKNOWN_ARRAY_VALUE, UNKNOWN_STRING_VALUE

from deployments import PASSWORDS, REMOTE_OVERRIDES, deploy
from policy_pack import (
    DOCKER_PROVIDER,
    NAMES,
    POLICY,
    POLICY_DIR,
    RESOURCE_NAMES,
    analyzer,
    assert_names,
    diagnostics,
    engine_config,
    inputs_with,
    json_format,
    publish,
    rules,
    sdk_args,
    set_option,
    unpinned_connection,
    validate,
)
from recorded import SECRET_SIG, SIG_KEY, reveal

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
