"""The users' password hashes, which both the front server (every protected request) and pypiserver
(uploads, again) check: bcrypt under salts derived from the stack's salt key (pypiserver/htpasswd.py,
pypiserver/salt_key.py).

Hashing happens inside the secrets: everything derived from the passwords and the salt key stays secret.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import pulumi

from .pypiserver.htpasswd import hash_users
from .pypiserver.salt_key import declare_salt_key
from .settings.access import AccessSettings
from .settings.expiry import expiry_warnings


def declare_hashes(access: AccessSettings, stack: str) -> pulumi.Output[Mapping[str, str]]:
    """User name -> bcrypt hash (secret). A stack without users has nothing to hash, and no key.

    The salt key is declared at the top of the stack, outside any component: its URN (and so the key)
    must outlive any change to how the program is assembled."""
    # A credential about to stop working: said at every preview, while there is time to renew it.
    for warning in expiry_warnings(access.expires, time.time()):
        pulumi.log.warn(warning)
    salt_key = declare_salt_key() if access.users else pulumi.Output.secret("")
    context = f"{pulumi.get_project()}/{stack}"
    return pulumi.Output.all(pulumi.Output.secret(access.users), salt_key).apply(
        lambda values: hash_users(values[0], values[1], context, access.bcrypt_rounds)
    )
