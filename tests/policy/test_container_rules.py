"""index-not-public-without-tls, container-unprivileged and container-memory-limit (policy/container_rules.py)."""

from __future__ import annotations

import pytest

from tests.support.policy_pack import CONTAINER, assert_names, changed, check, publish


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
