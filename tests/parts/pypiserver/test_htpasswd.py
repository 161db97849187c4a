"""The users' hashes: a salt that no guess can test, and hashes the image's own libraries verify."""

from __future__ import annotations

import json
import subprocess

import pytest
from passlib.hash import bcrypt

from components.pypiserver.htpasswd import derive_salt, hash_users, render_htpasswd
from components.pypiserver.settings import DEFAULT_IMAGE

KEY = "q2yq8mC3b0mJ2Rj0m7l9v0a8n2b3c4d5e6f7g8h9i0k="
CONTEXT = "pypi-index/staging"
# `$2b$` + cost + `$`, then the salt's 22 characters, then the checksum.
SALT = slice(7, 29)


def salt_of(digest: str) -> str:
    return digest[SALT]


def test_the_salt_does_not_depend_on_the_password():
    first = hash_users({"ci": "first-password-1234"}, KEY, CONTEXT, 4)["ci"]
    second = hash_users({"ci": "second-password-5678"}, KEY, CONTEXT, 4)["ci"]
    assert salt_of(first) == salt_of(second) == derive_salt(KEY, CONTEXT, "ci")
    assert first != second
    assert bcrypt.verify("first-password-1234", first) and not bcrypt.verify("second-password-5678", first)
    assert bcrypt.verify("second-password-5678", second) and not bcrypt.verify("first-password-1234", second)


@pytest.mark.parametrize(
    ("key", "context", "user"),
    [
        ("another-key-" + KEY, CONTEXT, "ci"),
        (KEY, "pypi-index/production", "ci"),
        (KEY, CONTEXT, "alice"),
    ],
    ids=["key", "stack", "user"],
)
def test_the_salt_changes_with_the_key_the_stack_and_the_user(key, context, user):
    assert derive_salt(key, context, user) != derive_salt(KEY, CONTEXT, "ci")


def test_the_same_inputs_give_the_same_hash_on_every_run():
    users = {"ci": "ci-password-7f3a9c1e5b", "alice": "alice-password-2d8e4f6a"}
    assert hash_users(users, KEY, CONTEXT, 4) == hash_users(dict(reversed(users.items())), KEY, CONTEXT, 4)


def test_an_empty_key_is_refused():
    with pytest.raises(ValueError, match="salt key is empty"):
        derive_salt("", CONTEXT, "ci")


def test_the_salt_is_a_canonical_bcrypt_salt():
    """bcrypt reads 128 of the salt's 132 bits: the last character must leave the other 4 unset, or
    passlib warns and rewrites it."""
    for user in ("ci", "alice", "x" * 64):
        salt = derive_salt(KEY, CONTEXT, user)
        assert len(salt) == 22 and salt[-1] in ".Oeu", salt
        assert bcrypt.using(rounds=4, salt=salt).hash("any-password-123")[SALT] == salt


VERIFY_AS_THE_IMAGE = """
import json, sys
import bcrypt, passlib
from passlib.apache import HtpasswdFile
path, checks = sys.argv[1], json.loads(sys.argv[2])
passwords = HtpasswdFile(path)
print(json.dumps({
    "versions": [passlib.__version__, bcrypt.__version__],
    "passlib": [passwords.check_password(user, password) for user, password in checks],
    "bcrypt": [bcrypt.checkpw(password.encode(), passwords.get_hash(user)) for user, password in checks],
}))
"""


def test_the_hashes_verify_with_the_images_passlib_and_bcrypt(tmp_path):
    """pypiserver checks uploads with passlib's HtpasswdFile; run it, and bcrypt itself, at the image's
    pins (the virtualenv the real-pypiserver tests use)."""
    from tests.support.real_pypiserver import ensure_venv

    users = {"ci": "ci-password-7f3a9c1e5b", "alice": "alice-password-2d8e4f6a"}
    htpasswd = tmp_path / ".htpasswd"
    htpasswd.write_text(render_htpasswd(hash_users(users, KEY, CONTEXT, 10)))
    checks = [*users.items(), ("ci", users["alice"]), ("alice", "alice-password-2d8e4f6b")]
    python = ensure_venv(DEFAULT_IMAGE.split(":")[1]) / "bin" / "python"
    result = subprocess.run(
        [str(python), "-c", VERIFY_AS_THE_IMAGE, str(htpasswd), json.dumps(checks)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["versions"] == ["1.7.4", "3.2.0"], "the image's pins (docker/docker-requirements.txt)"
    assert seen["passlib"] == seen["bcrypt"] == [True, True, False, False]
