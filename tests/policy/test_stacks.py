"""Whole stacks through every rule, with each stack's policy configuration."""

from __future__ import annotations

from deployments import deploy
from policy_pack import PINNED, findings


def test_production_passes_every_rule_and_is_advised_to_declare_who_publishes_what(production):
    found = findings(production, "production.json")
    assert set(found) == {("ownership-declared", "pypi-gunicorn-config")}
    assert "pulumi config set --path 'owners[0]' 'acme-*: alice, ci-acme'" in found[next(iter(found))][0]
    declared = deploy("production", **PINNED, owners=["*: ci"], uncoveredProjects="nobody")
    assert findings(declared, "production.json") == {}
    assert findings(deploy("production", **PINNED, owners=["acme-*: ci"]), "production.json") == {}
    assert findings(deploy("production", **PINNED, uncoveredProjects="nobody"), "production.json") == {}


def test_production_without_digests_fails_only_the_image_rule_besides_the_advice():
    found = findings(deploy("production"), "production.json")
    assert set(found) == {
        ("image-pinned", "pypi-image"),
        ("image-pinned", "pypi-front-image"),
        ("image-pinned", "pypi-backup-image"),
        ("ownership-declared", "pypi-gunicorn-config"),  # advice (see above)
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
