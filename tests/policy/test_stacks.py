"""Whole stacks through every rule, with each stack's policy configuration."""

from __future__ import annotations

from tests.support.deployments import deploy
from tests.support.policy_pack import PINNED, findings


def test_production_passes_every_rule_and_is_advised_to_declare_who_publishes_what(production):
    found = findings(production, "production.json")
    assert set(found) == {("ownership-declared", "pypi-gunicorn-config"), ("upload-credentials-expire", "stack")}
    owners = found[("ownership-declared", "pypi-gunicorn-config")][0]
    assert "pulumi config set --path 'owners[0]' 'acme-*: alice, ci-acme'" in owners
    lasting = found[("upload-credentials-expire", "stack")][0]
    assert "upload credentials without an expiry: alice, ci;" in lasting
    assert "pulumi config set --path 'expires[0]' 'alice: 2027-06-30T00:00:00Z'" in lasting
    expires = ["ci: 2099-06-30T00:00:00Z", "alice: 2099-06-30T00:00:00Z"]
    declared = deploy("production", **PINNED, owners=["*: ci"], uncoveredProjects="nobody", expires=expires)
    assert findings(declared, "production.json") == {}
    assert set(
        findings(deploy("production", **PINNED, owners=["acme-*: ci"], expires=expires[:1]), "production.json")
    ) == {("upload-credentials-expire", "stack")}
    # Only uploaders need one: alice may only read here.
    readers = deploy("production", **PINNED, uncoveredProjects="nobody", uploaders=["ci"], expires=expires[:1])
    assert findings(readers, "production.json") == {}


def test_production_without_digests_fails_only_the_image_rule_besides_the_advice():
    found = findings(deploy("production"), "production.json")
    assert set(found) == {
        ("image-pinned", "pypi-image"),
        ("image-pinned", "pypi-front-image"),
        ("image-pinned", "pypi-backup-image"),
        ("ownership-declared", "pypi-gunicorn-config"),  # advice (see above)
        ("upload-credentials-expire", "stack"),
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
        ("ownership-declared", "pypi-gunicorn-config"),
    }
