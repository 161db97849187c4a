"""Who may get in: auth-protects-all-actions (pypiserver asks for a password for everything) and
ssh-host-key-pinned (both SSH paths accept only the host's pinned key)."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from typing import Any

from policy.program_facts import ACTIONS
from policy.subjects import (
    CONTAINER,
    DOCKER_PROVIDER,
    REMOTE_COMMAND,
    UNKNOWN,
    Subject,
    describe,
    is_index_container,
    is_sequence,
    option_values,
)

PUBLIC_KEY = re.compile(
    r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|"
    r"sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}(\s.*)?$"
)


def auth_protects_all_actions(subject: Subject) -> list[str]:
    """pypiserver asks for a password for update, download and list (`-a update,download,list -P FILE`)."""
    resource_type, name, props, config = subject.resource_type, subject.name, subject.props, subject.config
    if resource_type != CONTAINER or not is_index_container(props, config):
        return []
    command = props.get("command")
    if command is UNKNOWN or (is_sequence(command) and any(a is UNKNOWN for a in command)):
        return []
    label = describe(resource_type, name)
    fix = (
        "protect all three: pulumi config rm authenticate (the default is [update, download, list]) "
        "and add users with pulumi config set --secret --path 'users.NAME' PASSWORD"
    )
    args = [str(a) for a in command] if is_sequence(command) else []
    given = option_values(args, "--authenticate", "-a")
    # pypiserver's default is `-a update`: without the option, anyone can download and list.
    value = given[-1] if given else "update"
    protected = set() if value.strip() == "." else {a.strip() for a in value.split(",") if a.strip()}
    missing = [a for a in ACTIONS if a not in protected]
    problems = []
    if missing:
        problems.append(f"{label}: pypiserver lets anyone {', '.join(missing)} (--authenticate {value!s}); {fix}")
    passwords = option_values(args, "--passwords", "-P")
    if protected and (not passwords or passwords[-1].strip() in ("", ".")):
        problems.append(
            f"{label}: pypiserver has no password file (--passwords), so nobody can log in; "
            "add users with pulumi config set --secret --path 'users.NAME' PASSWORD"
        )
    return problems


def ssh_options(raw: Any) -> dict[str, str]:
    """OpenSSH `-o` options as {lowercased key: value}; the first value of a key wins, as in ssh."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raw = shlex.split(raw)
    tokens = [str(t) for t in raw] if is_sequence(raw) else []
    options: dict[str, str] = {}
    i = 0
    while i < len(tokens):
        word = tokens[i]
        text = None
        if word == "-o" and i + 1 < len(tokens):
            text, i = tokens[i + 1], i + 1
        elif word.startswith("-o") and len(word) > 2:
            text = word[2:]
        i += 1
        if text is None:
            continue
        match = re.match(r"^\s*([A-Za-z]+)\s*(?:=|\s)\s*(.*?)\s*$", text)
        if match:
            options.setdefault(match.group(1).lower(), match.group(2))
    return options


def _known_hosts_key(command: str) -> bool:
    """KnownHostsCommand `/bin/echo <host pattern> <key type> <base64>` holds a public key."""
    parts = command.split()
    return any(PUBLIC_KEY.match(" ".join(parts[i : i + 2])) for i in range(len(parts) - 1))


def ssh_host_key_pinned(subject: Subject) -> list[str]:
    """Both SSH paths accept only the host's pinned key: the Docker provider and every remote command."""
    resource_type, name, props = subject.resource_type, subject.name, subject.props
    label = describe(resource_type, name)
    pin = (
        'pin the host\'s key: pulumi config set sshHostKey "ssh-ed25519 AAAA..." (the text of '
        "/etc/ssh/ssh_host_ed25519_key.pub, read on the host) and pulumi config rm insecureSkipHostKeyCheck"
    )
    if resource_type == DOCKER_PROVIDER:
        host = props.get("host")
        if host is UNKNOWN or not isinstance(host, str) or not host.startswith("ssh://"):
            return []  # the local engine: no SSH
        raw = props.get("sshOpts")
        if raw is UNKNOWN:
            return []
        opts = ssh_options(raw)
        problems = []
        strict = opts.get("stricthostkeychecking")
        if (strict or "").lower() != "yes":
            problems.append(
                f"{label} reaches {host} with StrictHostKeyChecking={strict or 'unset (ask)'}: "
                f"ssh would accept a key it has not been given; {pin}"
            )
        command = opts.get("knownhostscommand")
        if not command or not _known_hosts_key(command):
            problems.append(f"{label} reaches {host} without the pinned key (no KnownHostsCommand with a key); {pin}")
        for option, shown in (
            ("userknownhostsfile", "UserKnownHostsFile"),
            ("globalknownhostsfile", "GlobalKnownHostsFile"),
        ):
            if opts.get(option) != "/dev/null":
                problems.append(
                    f"{label} reaches {host} with {shown}={opts.get(option) or 'unset (the default file)'}: "
                    "a key recorded there would be accepted besides the pinned one; set it to /dev/null "
                    "(the program does when sshHostKey is set)"
                )
        return problems
    if resource_type == REMOTE_COMMAND:
        # `connection` is a secret: say which resource, never what the connection holds.
        connection = props.get("connection")
        hops = [("connection", connection)]
        if isinstance(connection, Mapping) and connection.get("proxy") is not None:
            hops.append(("connection.proxy", connection.get("proxy")))
        problems = []
        for where, hop in hops:
            key: Any = hop.get("hostKey") if isinstance(hop, Mapping) else hop
            if key is UNKNOWN:
                continue
            if not isinstance(key, str) or not PUBLIC_KEY.match(key.strip()):
                problems.append(
                    f"{label} connects without a pinned host key ({where}.hostKey is not a public key); {pin}"
                )
        return problems
    return []
