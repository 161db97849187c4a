"""A model of pulumi-command v1.2.1's `remote.Command` and `local.Command`, written from its source.

Paths are under `provider/pkg/provider/` of pulumi/pulumi-command at v1.2.1 unless said otherwise.
What it models:
- the diff: only `triggers` replaces (`common/inputs.go` tags it `replaceOnChanges`, and the Python
  SDK adds `replace_on_changes=["triggers[*]"]`); every other input change is an Update, which runs
  `update`, else `create`, with the NEW inputs (`remote/commandController.go`, `Update`);
- how a command runs: remote, an SSH `exec` of the raw string (`remote/commandOutputs.go`, `run`);
  local, `/bin/sh -c` with the provider's environment plus `environment` (`local/commandOutputs.go`);
  stdin attached only when non-empty; stdout and stderr each lose exactly one trailing "\\n"
  (`strings.TrimSuffix`); a failure reports the command and its output whatever `logging` says;
- the SSH connection (`remote/connection.go`): the pinned key as the only known host key AND the only
  host-key algorithm offered (`SSHConfig`: `HostKeyAlgorithms = []string{publicKey.Type()}`); dial
  failures retried `dial_error_limit` + 1 times with the SDK's backoff (`dialWithRetry`).
OpenSSH stands in for Go's x/crypto client; the key comes from a file where users have an agent.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .docker_provider import Diff, Unmapped, contains_unknown

REMOTE = "command:remote:Command"
LOCAL = "command:local:Command"
# Fields of `remote/connection.go` `Connection` the model reproduces, with `Annotate`'s defaults.
CONNECTION_DEFAULTS = {"user": "root", "port": 22, "dialErrorLimit": 10, "perDialTimeout": 15}
CONNECTION_KEYS = {"host", "port", "user", "hostKey", "privateKey", *CONNECTION_DEFAULTS}
# What OpenSSH prints when it never reached the remote command: a dial error pulumi-command retries.
DIAL_FAILURES = (
    "Connection refused",
    "Connection timed out",
    "No route to host",
    "Host key verification failed",
    "no matching host key type",
    "Permission denied",
    "kex_exchange_identification",
    "Connection closed by",
    "Could not resolve hostname",
)


class CommandFailed(RuntimeError):
    """What pulumi-command reports for a failed command or a connection it could not make."""


def command_diff(old: Mapping[str, Any], new: Mapping[str, Any], replace_on_changes: Sequence[str]) -> Diff:
    """go-provider `infer/resource.go` `diff` plus the engine's `applyReplaceOnChanges`."""
    result = Diff()
    for key in sorted(set(old) | set(new)):
        if old.get(key) == new.get(key) and not contains_unknown(new.get(key)):
            continue
        replaces = key == "triggers" or any(path.split("[")[0] == key for path in replace_on_changes)
        (result.replace if replaces else result.update).append(key)
    return result


def trim(output: str) -> str:
    """`strings.TrimSuffix(buf.String(), "\\n")`: one newline, not all of them."""
    return output[:-1] if output.endswith("\n") else output


class CommandRunner:
    def __init__(self, identity_file: Path, workdir: Path, base_env: Mapping[str, str]):
        self.identity_file = identity_file
        self.workdir = workdir
        self.base_env = dict(base_env)

    def run(
        self, type_: str, name: str, inputs: Mapping[str, Any], phase: str, previous: Mapping[str, str]
    ) -> dict[str, str]:
        """Run `phase`'s script. `previous`: the stored outputs (update and delete only)."""
        command = inputs.get(phase)
        if phase == "update" and not command:
            command = inputs.get("create")  # no `update`: create runs again
        if not command:
            return dict(previous)  # nothing runs; the old outputs stay
        stdin = inputs.get("stdin") or None  # attached only when non-empty, else EOF
        env = dict(self.base_env)
        if inputs.get("addPreviousOutputInEnv", True) and phase != "create" and any(previous.values()):
            if type_ == REMOTE:
                raise Unmapped(f"{name}: PULUMI_COMMAND_* over session.Setenv (needs AcceptEnv) is not modelled")
            env.update({f"PULUMI_COMMAND_{k.upper()}": v for k, v in previous.items() if v})
        if type_ == LOCAL:
            env.update(inputs.get("environment") or {})
            result = subprocess.run(
                ["/bin/sh", "-c", command], input=stdin, capture_output=True, text=True, env=env, timeout=900
            )
        else:
            if inputs.get("environment"):
                raise Unmapped(f"{name}: remote `environment` (session.Setenv) is not modelled")
            result = self._ssh(name, inputs["connection"], command, stdin, env)
        if result.returncode != 0:
            raise CommandFailed(
                f"{name}: exit status {result.returncode}: running {command!r}:\n{result.stdout}{result.stderr}"
            )
        return {"stdout": trim(result.stdout), "stderr": trim(result.stderr)}

    def _ssh(
        self, name: str, connection: Mapping[str, Any], command: str, stdin: str | None, env: Mapping[str, str]
    ) -> subprocess.CompletedProcess[str]:
        unknown = set(connection) - CONNECTION_KEYS
        if unknown:
            raise Unmapped(f"{name}: connection keys {sorted(unknown)} are not modelled")
        c = {**CONNECTION_DEFAULTS, **connection}
        argv = ["ssh", *self.ssh_options(name, c), "-p", str(int(c["port"])), f"{c['user']}@{c['host']}", "--", command]
        attempts = int(c["dialErrorLimit"]) + 1
        delay = 0.1
        for attempt in range(1, attempts + 1):
            result = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=env, timeout=900)
            dial_failed = result.returncode == 255 and any(f in result.stderr for f in DIAL_FAILURES)
            if not dial_failed:
                return result
            if attempt == attempts:
                raise CommandFailed(f"{name}: after {attempts - 1} failed attempts: {result.stderr.strip()}")
            time.sleep(delay)
            delay = min(delay * 1.5, 5.0)  # sdk/go/common/util/retry/until.go
        raise AssertionError("unreachable")

    def ssh_options(self, name: str, c: Mapping[str, Any]) -> list[str]:
        options = ["-o", "BatchMode=yes", "-o", f"ConnectTimeout={int(c['perDialTimeout'])}", "-o", "LogLevel=ERROR"]
        host_key = c.get("hostKey")
        if host_key:
            key_type = host_key.split()[0]
            pattern = c["host"] if int(c["port"]) == 22 else f"[{c['host']}]:{int(c['port'])}"
            known = self.workdir / f"known_hosts-{abs(hash((pattern, host_key)))}"
            known.write_text(f"{pattern} {host_key}\n")
            options += [
                "-o", "StrictHostKeyChecking=yes",
                "-o", f"UserKnownHostsFile={known}",
                "-o", "GlobalKnownHostsFile=/dev/null",
                # connection.go SSHConfig: HostKeyAlgorithms is the pinned key's own type, nothing else.
                "-o", f"HostKeyAlgorithms={key_type}",
            ]  # fmt: skip
        else:
            options += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
        key_file = self.identity_file
        if c.get("privateKey"):
            key_file = self.workdir / f"key-{name}"
            key_file.write_text(c["privateKey"])
            key_file.chmod(0o600)
        return [*options, "-i", str(key_file), "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none"]


def identity_ssh_options(identity_file: Path) -> list[str]:
    """Where users have an SSH agent, the tests have a key file: the only deviation on the SSH path."""
    return ["-i", str(identity_file), "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", "LogLevel=ERROR"]
