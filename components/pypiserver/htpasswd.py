"""The htpasswd file pypiserver reads: bcrypt hashes that are the same on every `pulumi up`.

A fresh random salt per run would make every `pulumi up` rewrite the file and report a change. So the
salt is derived, but never cheaply from the password: it is scrypt(password, salt=context+user).
Testing a guessed password against a leaked file therefore costs scrypt plus bcrypt (no fast path
through the salt), two users or two stacks with one password get different hashes, and rotating a
password changes the salt. The file holds no plaintext; it is still treated as secret.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from passlib.hash import bcrypt
from passlib.utils.binary import bcrypt64

# scrypt at 16 MiB: ~50 ms once per user per run, and for anyone guessing, once per guess.
SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def derive_salt(password: str, user: str, context: str) -> str:
    """A 22-character bcrypt salt fixed by (context, user, password)."""
    raw = hashlib.scrypt(password.encode(), salt=f"pypi-index htpasswd\0{context}\0{user}".encode(), dklen=16, **SCRYPT)
    return bcrypt64.encode_bytes(raw).decode()


def hash_password(user: str, password: str, context: str, rounds: int) -> str:
    """`$2b$` bcrypt, which the image's passlib 1.7.4 with bcrypt 3.2 verifies."""
    salt = derive_salt(password, user, context)
    return str(bcrypt.using(rounds=rounds, salt=salt, ident="2b").hash(password))


def hash_users(users: Mapping[str, str], context: str, rounds: int) -> dict[str, str]:
    """User name -> bcrypt hash, for the htpasswd file and the front server alike."""
    return {name: hash_password(name, users[name], context, rounds) for name in sorted(users)}


def render_htpasswd(hashes: Mapping[str, str]) -> str:
    """The whole file, users sorted so the text depends on the config's content, not its order."""
    return "".join(f"{name}:{hashes[name]}\n" for name in sorted(hashes))
