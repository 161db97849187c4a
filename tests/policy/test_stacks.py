"""Whole stacks through every rule, with each stack's policy configuration."""

from __future__ import annotations

from tests.support.deployments import deploy
from tests.support.policy_pack import findings


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
