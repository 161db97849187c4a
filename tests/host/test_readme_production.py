"""The README's production set-up block, run line by line as written up to `make preview STACK=production`,
in a fresh copy of the checkout with its own state folder, against a test host and the tests' backup
server. The substitutions are the block's own placeholders, each as the README documents it:
- `pypi.example.com` stays as typed: an SSH alias (the user's ~/.ssh/config entry for their host)
  reaches the test host, so `ssh deploy@pypi.example.com` fetches its real host key;
- `backup.example.com` is the backup server's address, `backup-host-ed25519.pub` its host key and
  `restic_key` the key the README's backup-server lines authorised;
- `--secrets-provider awskms://...` becomes `passphrase`, the alternative the line's comment names (no
  KMS is reachable here), with PULUMI_CONFIG_PASSPHRASE set, and the backend is a local folder, where
  the README says to `pulumi login` first;
- each `sha256:…` is a well-formed digest (the user looks theirs up with `docker buildx imagetools`).
The lines after the preview are not run here: `make up` with `tls acme` needs a public ACME CA, which
no loopback test can reach (the deploy tests run `up` with `tls internal`), and the `git` line needs
the user's repository. The preview itself runs the policy pack with policy/production.json (mandatory).
"""

from __future__ import annotations

import re

from policy.rules import PACK_NAME
from tests.support import readme_commands
from tests.support.engine import engine_env

from .commands import figure
from .test_readme_commands import checkout_copy

DIGEST = "sha256:" + "0123456789abcdef" * 4


def production_commands(backup_address: str) -> list[str]:
    """The block's commands up to and including the preview, with the placeholders substituted."""
    block = next(b for b in readme_commands.unmarked_sh_blocks() if any("pulumi stack init production" in c for c in b))
    commands = []
    for command in block:
        command = command.replace("--secrets-provider awskms://alias/pypi-index", "--secrets-provider passphrase")
        command = command.replace("sha256:…", DIGEST).replace("backup.example.com", backup_address)
        commands.append(command)
        if command.startswith("make preview"):
            return commands
    raise AssertionError(f"the production block has no `make preview` line: {block}")


def test_the_readme_production_set_up_runs_as_written_up_to_the_preview(target_host, backup_server, tmp_path):
    work = checkout_copy(tmp_path / "checkout")
    (work / "restic_key").write_text(backup_server.private_key)
    (work / "backup-host-ed25519.pub").write_text(backup_server.host.host_public_key + "\n")
    env = readme_commands.ssh_alias_env(
        "pypi.example.com", "127.0.0.1", target_host.ssh_port, target_host.user, target_host.private_key_path,
        target_host.known_hosts_path, tmp_path,
    )  # fmt: skip
    (tmp_path / "state").mkdir()
    env = engine_env(
        {
            "PATH": env["PATH"],
            "PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}",
            "PULUMI_CONFIG_PASSPHRASE": "the production stack's passphrase",
        }
    )
    env.pop("SSH_AUTH_SOCK", None)  # the preview needs no key: nothing connects
    commands = production_commands(backup_server.address)
    outcomes = []
    for command in commands:
        outcomes.append(readme_commands.run(command, work, env))
        assert outcomes[-1].ok, f"{command} -> {outcomes[-1].status}:\n{outcomes[-1].output[-3000:]}"
    figure(f"README production set-up: {len(outcomes)} commands run as written up to the preview, 0 failed")
    config = (work / "config" / "Pulumi.production.yaml").read_text()
    assert target_host.host_public_key.split()[1] in config, "the host key fetched over SSH is the pinned one"
    assert "a long passphrase" not in config and "secure:" in config, "passwords are stored encrypted"
    preview = outcomes[-1].output
    assert re.search(r"\+ \d+ to create", preview), preview[-3000:]
    # The pack ran (the engine lists each pack it ran under "Policies:", as NAME@vVERSION: pulumi
    # pkg/backend/display/progress.go, printPolicies); each violation is printed as "[LEVEL]  policy-name"
    # (diff.go, renderDiffPolicyViolationEvent).
    assert "Policies:" in preview and f"{PACK_NAME}@v" in preview, preview[-3000:]
    # No mandatory violation (one would also fail the preview); the advisory rules for `owners` and
    # `expires` (issue 25) may speak, since the block sets neither.
    assert "[mandatory]" not in preview, preview[-3000:]
