"""image-pinned (policy/image_rules.py): every image and container by tag, and by digest in production."""

from __future__ import annotations

import pytest

from tests.support.policy_pack import CONTAINER, assert_names, changed, check, subjects


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
