"""auth-protects-all-actions and ssh-host-key-pinned (policy/access_rules.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.deployments import deploy
from tests.support.policy_pack import (
    DOCKER_PROVIDER,
    REMOTE_COMMAND,
    assert_names,
    changed,
    check,
    findings,
    set_option,
)


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
