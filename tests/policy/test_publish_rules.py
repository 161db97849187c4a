"""ownership-declared and the stack policy upload-credentials-expire (policy/publish_rules.py)."""

from __future__ import annotations

from components.in_container.project_access import render as render_access
from components.pypiserver.programs import archive
from tests.support.deployments import deploy
from tests.support.policy_pack import (
    PINNED,
    POLICY,
    POLICY_DIR,
    RULE,
    assert_names,
    check,
    engine_config,
    sdk_args,
    stack_resources,
)

EXPIRES = ["ci: 2099-06-30T00:00:00Z", "alice: 2099-06-30T00:00:00Z"]


def test_ownership_declared_passes_with_rules_or_nobody_for_the_uncovered(production):
    for overrides in ({"owners": ["acme-*: ci"]}, {"uncoveredProjects": "nobody"}):
        d = deploy("production", **PINNED, **overrides)
        assert check("ownership-declared", d.named("pypi-gunicorn-config")) == []
    # Other steps and containers are not the programs' delivery.
    assert check("ownership-declared", production.named("pypi-htpasswd")) == []
    assert check("ownership-declared", production.named("pypi-container")) == []


def test_ownership_declared_advises_a_stack_where_every_uploader_may_publish_everything(production):
    reg = production.named("pypi-gunicorn-config")
    messages = check("ownership-declared", reg)
    assert_names(reg, messages)
    assert "every uploader may publish every project" in messages[0]
    # Not fooled by a stdin that is not the archive, nor broken by one that does not decode.
    for stdin in ("not base64 at all", archive(render_access({}, "nobody"))[:40]):
        assert check("ownership-declared", reg, {**reg.plain, "stdin": stdin}) == []


def test_upload_credentials_expire_names_each_uploader_without_one_and_never_a_hash(production):
    check_stack = RULE["upload-credentials-expire"].check  # the pack's stack rule, as findings() runs it
    messages = check_stack(stack_resources(production))
    assert len(messages) == 1 and "upload credentials without an expiry: alice, ci;" in messages[0]
    assert "$2" not in messages[0], "nothing of a hash"
    assert check_stack(stack_resources(deploy("production", **PINNED, expires=EXPIRES))) == []
    assert "ci" in check_stack(stack_resources(deploy("production", **PINNED, expires=EXPIRES[1:])))[0]
    # dev has no password file: nobody uploads with a credential, nothing to expire.
    assert check_stack(stack_resources(deploy("dev"))) == []


def test_both_policies_through_the_sdk_with_production_levels(production):
    level = engine_config(POLICY_DIR / "production.json")
    assert level["ownership-declared"][0] == level["upload-credentials-expire"][0] == "advisory"
    reg = production.named("pypi-gunicorn-config")
    reported: list[str] = []
    POLICY["ownership-declared"].validate(sdk_args(reg), lambda message, urn: reported.append(message))
    assert reported and "owners" in reported[0]
