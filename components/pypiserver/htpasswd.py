"""The htpasswd file pypiserver reads: bcrypt hashes that are the same on every `pulumi up`.

A fresh random salt per run would make every `pulumi up` rewrite the file and report a change, so the
salt is derived, and from nothing a guess could test: it is HMAC-SHA256, under the stack's salt key
(random once, then kept in the stack's state as a secret: salt_key.py), of the stack and the user
name. It never depends on the password: were it derived from the password, as it was with scrypt
before, anyone holding the file could test a guess against the salt alone and skip bcrypt. So each
guess costs one bcrypt at the file's cost, and only for one user's hash: every user of every stack has
a salt of their own, and the random key keeps two installations with the same stack and user names
apart. A user keeps their salt when their password changes. The file holds no plaintext; it is
still treated as secret.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from passlib.hash import bcrypt
from passlib.utils.binary import bcrypt64

# bcrypt's salt is 16 bytes, written as 22 characters of its own base64.
SALT_BYTES = 16


def derive_salt(key: str, context: str, user: str) -> str:
    """A 22-character bcrypt salt fixed by (key, context, user); `context` names the stack."""
    if not key:
        raise ValueError("the salt key is empty: the salts would be the same for every installation")
    message = f"pypi-index htpasswd salt\0{context}\0{user}".encode()
    raw = hmac.new(key.encode(), message, hashlib.sha256).digest()[:SALT_BYTES]
    return bcrypt64.encode_bytes(raw).decode()


def hash_password(password: str, salt: str, rounds: int) -> str:
    """`$2b$` bcrypt, which the image's passlib 1.7.4 with bcrypt 3.2 verifies."""
    return str(bcrypt.using(rounds=rounds, salt=salt, ident="2b").hash(password))


def hash_users(users: Mapping[str, str], key: str, context: str, rounds: int) -> dict[str, str]:
    """User name -> bcrypt hash, for the htpasswd file and the front server alike."""
    return {name: hash_password(users[name], derive_salt(key, context, name), rounds) for name in sorted(users)}


def render_htpasswd(hashes: Mapping[str, str]) -> str:
    """The whole file, users sorted so the text depends on the config's content, not its order."""
    return "".join(f"{name}:{hashes[name]}\n" for name in sorted(hashes))
