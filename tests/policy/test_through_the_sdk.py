"""Every policy through the SDK: ResourceValidationPolicy.validate with arguments built as the analyzer
builds them. The pack as the engine runs it: test_through_the_engine.py."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from pulumi_policy.proxy import UNKNOWN_ARRAY_VALUE, UNKNOWN_STRING_VALUE

from components.in_container.project_access import render as render_access
from components.pypiserver.programs import archive
from tests.support.deployments import PASSWORDS, REMOTE_OVERRIDES, deploy
from tests.support.policy_pack import (
    DOCKER_PROVIDER,
    NAMES,
    PINNED,
    POLICY,
    POLICY_DIR,
    RESOURCE_NAMES,
    assert_names,
    engine_config,
    inputs_with,
    publish,
    sdk_args,
    set_option,
    unpinned_connection,
    validate,
)
from tests.support.recorded import SECRET_SIG, SIG_KEY, reveal

SDK_CASES: dict[str, tuple[str, Callable[[dict[str, Any]], object]]] = {
    "image-pinned": ("pypi-image", lambda i: i.update(name="pypiserver/pypiserver:latest")),
    "auth-protects-all-actions": ("pypi-container", set_option("--authenticate", "update")),
    "ssh-host-key-pinned": ("pypi-health", unpinned_connection),
    "package-volume-protected": ("pypi-packages", lambda i: None),  # made unprotected below
    "index-not-public-without-tls": ("pypi-container", publish("0.0.0.0")),
    "container-unprivileged": ("pypi-front", lambda i: i.update(privileged=True)),
    "container-memory-limit": ("pypi-front", lambda i: i.pop("memory")),
    # The programs delivered without rules: every uploader may publish every project.
    "ownership-declared": ("pypi-gunicorn-config", lambda i: i.update(stdin=archive(render_access({}, "uploaders")))),
}


def test_every_policy_has_an_sdk_case():
    assert set(SDK_CASES) == set(RESOURCE_NAMES) and set(POLICY) == set(NAMES)


@pytest.fixture(scope="module")
def declared(production):
    """Production that also declares who may publish what (the one policy production is only advised on)."""
    expires = ["ci: 2099-06-30T00:00:00Z", "alice: 2099-06-30T00:00:00Z"]
    return deploy("production", **PINNED, owners=["*: ci"], uncoveredProjects="nobody", expires=expires)


@pytest.mark.parametrize("policy", RESOURCE_NAMES)
def test_each_policy_through_the_sdk(production, declared, policy):
    config = engine_config(POLICY_DIR / "production.json")[policy][1]
    resource, change = SDK_CASES[policy]
    if policy == "ownership-declared":
        production = declared
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
