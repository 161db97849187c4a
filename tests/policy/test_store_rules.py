"""package-volume-protected and the stack policy backups-scheduled (policy/store_rules.py)."""

from __future__ import annotations

import pulumi_policy
import pytest

from tests.support.deployments import deploy
from tests.support.policy_pack import (
    POLICY,
    POLICY_DIR,
    VOLUME,
    assert_names,
    changed,
    check,
    engine_config,
    rules,
    stack_resources,
)
from tests.support.recorded import Deployment, reveal


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


def test_a_remote_package_store_without_scheduled_backups_is_reported(production, dev):
    assert rules.backups_scheduled(stack_resources(production)) == []
    assert rules.backups_scheduled(stack_resources(dev)) == [], "the local engine has no systemd timer to run"
    unbacked = deploy("staging", backupRepository=None, backupPassword=None, backupSshKey=None, backupSshHostKey=None)
    (message,) = rules.backups_scheduled(stack_resources(unbacked))
    assert 'Volume "pypi-packages"' in message and "Set backupRepository" in message


def test_backups_scheduled_through_the_sdk(production):
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
