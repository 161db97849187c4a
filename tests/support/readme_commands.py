"""The README's shell commands, run exactly as written.

A fenced `sh` block preceded by `<!-- readme-commands: WHERE -->` is meant to be run: `dev` blocks on
this machine in a copy of the checkout, `host` blocks against a deployed test host. Each line is one
command, run by bash as a user's shell runs it; a `#` comment ends the line's command. The only
substitutions are the README's own placeholders, each documented where it is used: `HOST` (an SSH alias
the tests define, so even it is typed as written), `your-package`, `dist/*` (files the test builds).
A command that follows its output (`-f`) is stopped once it has printed, after FOLLOW_SECONDS.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.recorded import ROOT

README = ROOT / "README.md"
FOLLOW_SECONDS = 4.0
_BLOCK = re.compile(r"<!-- readme-commands: (?P<where>[\w-]+) -->\n[ \t]*```sh\n(?P<body>.*?)\n[ \t]*```", re.S)


def blocks(where: str, text: str | None = None) -> list[list[str]]:
    """The commands of each block marked for `where`, in README order."""
    text = README.read_text() if text is None else text
    found = []
    for match in _BLOCK.finditer(text):
        if match.group("where") == where:
            found.append(_commands(match.group("body")))
    return found


_SH = re.compile(r"(?P<marker><!-- readme-commands: [\w-]+ -->\n)?[ \t]*```sh\n(?P<body>.*?)\n[ \t]*```", re.S)


def unmarked_sh_blocks(text: str | None = None) -> list[list[str]]:
    """The commands of each `sh` block NOT marked to be run: a test that runs one says which
    placeholders it substitutes, and why the lines it leaves out cannot run here."""
    text = README.read_text() if text is None else text
    return [_commands(m.group("body")) for m in _SH.finditer(text) if not m.group("marker")]


def _commands(body: str) -> list[str]:
    lines = [line.strip() for line in body.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def follows(command: str) -> bool:
    """Whether the command keeps printing until stopped (`journalctl -f`, `docker logs -f`)."""
    return bool(re.search(r"(^|\s)(-f|--follow)(\s|$)", command.split("#", 1)[0]))


@dataclass
class Outcome:
    command: str
    status: int | None
    output: str

    @property
    def ok(self) -> bool:
        return self.status == 0 or (self.status is None and bool(self.output.strip()))


@dataclass
class Tally:
    """Every README command run in this session, for the line CI prints."""

    outcomes: list[Outcome] = field(default_factory=list)

    def line(self) -> str:
        failed = sum(not o.ok for o in self.outcomes)
        return f"README commands {len(self.outcomes)} run as written, {failed} failed"


TALLY = Tally()


def record(command: str, proc: subprocess.CompletedProcess) -> Outcome:
    """Count a command the caller ran itself (e.g. inside a test host)."""
    outcome = Outcome(command, proc.returncode, (proc.stdout or "") + (proc.stderr or ""))
    TALLY.outcomes.append(outcome)
    return outcome


def run(command: str, cwd: Path, env: Mapping[str, str], timeout: float = 900) -> Outcome:
    """One command through bash, as typed; a following one is stopped after FOLLOW_SECONDS (status None)."""
    if follows(command):
        process = subprocess.Popen(
            ["bash", "-c", command], cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        time.sleep(FOLLOW_SECONDS)
        status = process.poll()
        process.terminate()
        output, _ = process.communicate(timeout=30)
        outcome = Outcome(command, status, output)
    else:
        proc = subprocess.run(
            ["bash", "-c", command], cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout
        )
        outcome = Outcome(command, proc.returncode, proc.stdout + proc.stderr)
    TALLY.outcomes.append(outcome)
    return outcome


def ssh_alias_env(alias: str, host: str, port: int, user: str, key: Path, known_hosts: Path, folder: Path) -> dict:
    """Environment in which `ssh ALIAS` reaches the test host with its pinned key, as a user's
    ~/.ssh/config entry would: an `ssh` first on PATH that reads this config (and no other)."""
    config = folder / "ssh_config"
    config.write_text(
        f"Host {alias}\n  HostName {host}\n  Port {port}\n  User {user}\n  IdentityFile {key}\n"
        f"  IdentitiesOnly yes\n  UserKnownHostsFile {known_hosts}\n  StrictHostKeyChecking yes\n"
        "  BatchMode yes\n  LogLevel ERROR\n"
    )
    wrapper = folder / "bin" / "ssh"
    wrapper.parent.mkdir(parents=True, exist_ok=True)
    wrapper.write_text(f'#!/bin/sh\nexec /usr/bin/ssh -F {config} "$@"\n')
    wrapper.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("SSH_AUTH_SOCK",)}
    env["PATH"] = f"{wrapper.parent}{os.pathsep}{env.get('PATH', os.defpath)}"
    return env
