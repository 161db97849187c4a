"""The stack's salt key: 32 random bytes made at the first `pulumi up` that has users, then kept in the
stack's state as a secret. htpasswd.py derives each user's bcrypt salt from it.

Randomness at program time would change every hash on every run; what must be random once lives in
state. Of the providers this program has, pulumi-command can hold such a value: a local.Command runs
`create` when it is created and keeps its stdout in state. pulumi-command v1.2.1
(provider/pkg/provider/local/commandController.go) runs nothing at preview, runs `create` again only
when an input changes (Update; these inputs are constants), and has no Read of its own, so
`pulumi refresh` keeps the stored value as it is. It runs where `pulumi up` runs, so it needs no
host. Its stdout is a secret output and is never logged.

A new key (the resource replaced, or KEY_SCRIPT below edited) only rewrites every hash once: the
passwords stay valid, as when users change.
"""

from __future__ import annotations

import pulumi
from pulumi_command import local

from ..host.scripts import as_command

SALT_KEY = "users-salt-key"
"""The resource's name (and so its URN): a new name would be a new key."""

KEY_SCRIPT = "head -c 32 /dev/urandom | base64"


def declare_salt_key() -> pulumi.Output[str]:
    """The key (secret). Declared once per stack, outside any apply, so preview and up agree."""
    key = local.Command(
        SALT_KEY,
        create=as_command(KEY_SCRIPT),
        logging=local.Logging.NONE,
        add_previous_output_in_env=False,
        opts=pulumi.ResourceOptions(additional_secret_outputs=["stdout", "stderr"]),
    )
    # Secret in the program too, whatever the engine does with additional_secret_outputs: every value
    # computed from the key stays secret.
    return pulumi.Output.secret(key.stdout)
