"""pypiserver's settings: its image, who may do what (users, uploaders, protected actions), yanked
releases, server and volume names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from .values import (
    ACTIONS,
    DIGEST,
    MAX_PASSWORD_BYTES,
    MIN_PASSWORD,
    RELEASE_TAG,
    SERVERS,
    USER_NAME,
    VOLUME_NAME,
    ConfigError,
    _bool,
    _choice,
    _list,
    _show,
    _str,
)


def _parse_users(values: Mapping[str, Any], users_secret: bool) -> dict[str, str]:
    raw = values.get("users", {})
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise ConfigError("users", "(secret)", "expected an object of user name -> password") from None
    if not isinstance(raw, dict):
        raise ConfigError("users", "(secret)", "expected an object of user name -> password")
    if raw and not users_secret:
        raise ConfigError(
            "users",
            "a value stored in clear",
            "set passwords with `pulumi config set --secret --path 'users.NAME' PASSWORD`",
        )
    users: dict[str, str] = {}
    for name, password in raw.items():
        if not isinstance(name, str) or not USER_NAME.match(name):
            raise ConfigError(
                "users",
                f"user name {_show(name)}",
                "user names are 1-64 letters, digits, '.', '_', '-' or '@' (no ':' or spaces)",
            )
        if not isinstance(password, str) or len(password) < MIN_PASSWORD:
            raise ConfigError(
                f"users.{name}",
                "(secret) an empty or short password",
                f"passwords need at least {MIN_PASSWORD} characters",
            )
        if len(password.encode()) > MAX_PASSWORD_BYTES:
            raise ConfigError(
                f"users.{name}",
                "(secret) a password over 72 bytes",
                f"bcrypt reads at most {MAX_PASSWORD_BYTES} bytes: use a shorter password",
            )
        users[name] = password
    return users


def _parse_uploaders(values: Mapping[str, Any], users: Mapping[str, str]) -> tuple[str, ...]:
    """`uploaders`: who may upload; [] (the default) means every user. Sorted, so order is no change."""
    if not users:
        return ()  # nobody logs in: `uploaders` does nothing, and ONLY_USED_WITH says so
    raw = _list(values, "uploaders", [])
    for name in raw:
        if not isinstance(name, str) or name not in users:
            raise ConfigError(
                "uploaders",
                _show(name),
                f"uploaders are names from users ({', '.join(sorted(users)) or 'none configured'}); [] lets every user upload",
            )
    return tuple(sorted(set(raw))) if raw else tuple(sorted(users))


YANK = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([A-Za-z0-9][A-Za-z0-9.+!_-]*)\s*(?::\s*(.*?))?\s*$")


def _parse_yanked(values: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """`yanked`: ["name==version: reason", ...] (the reason is optional), keyed by PEP 503 name."""
    yanked: dict[str, dict[str, str]] = {}
    for entry in _list(values, "yanked", []):
        match = YANK.match(entry) if isinstance(entry, str) else None
        reason = match.group(3) or "" if match else ""
        if not match or len(reason) > 300 or any(c in reason for c in "\r\n"):
            raise ConfigError(
                "yanked",
                _show(entry),
                "entries are 'name==version' or 'name==version: reason' (one line, 300 characters)",
            )
        name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
        yanked.setdefault(name, {})[match.group(2)] = reason
    return yanked


def _parse_authenticate(values: Mapping[str, Any]) -> tuple[str, ...]:
    raw = _list(values, "authenticate", list(ACTIONS))
    actions = []
    for action in raw:
        if action not in ACTIONS:
            raise ConfigError(
                "authenticate", _show(action), f"protected actions are {', '.join(ACTIONS)} (a list; [] for none)"
            )
        if action not in actions:
            actions.append(action)
    # pypiserver's order, so the rendered arguments never change with the config's order.
    return tuple(a for a in ACTIONS if a in actions)


def _parse_image(values: Mapping[str, Any]) -> tuple[str, str, str | None]:
    repository = _str(values, "imageRepository", "pypiserver/pypiserver")
    if not repository or not re.match(
        r"^[a-z0-9]+([._/-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*$", repository
    ):
        raise ConfigError(
            "imageRepository", _show(repository), "expected an image repository such as pypiserver/pypiserver"
        )
    tag = _str(values, "imageTag", "v2.4.1")
    if not tag or not RELEASE_TAG.match(tag):
        raise ConfigError(
            "imageTag", _show(tag), "expected a release tag such as v2.4.1 (latest, unstable and vX.Y float)"
        )
    digest = _str(values, "imageDigest")
    if digest and not DIGEST.match(digest):
        raise ConfigError("imageDigest", _show(digest), "expected sha256: followed by 64 lowercase hex digits")
    return repository, tag, digest


def _parse_volume(values: Mapping[str, Any], key: str, default: str) -> str:
    raw = _str(values, key, default)
    if not raw or not VOLUME_NAME.match(raw):
        raise ConfigError(key, _show(raw), "expected a Docker name: letters, digits, '_', '.', '-'")
    return raw


def _parse_access(
    values: Mapping[str, Any], users_secret: bool
) -> tuple[tuple[str, ...], dict[str, str], tuple[str, ...]]:
    """(what is protected, the users and their passwords, who may upload), consistent with each other."""
    authenticate = _parse_authenticate(values)
    users = _parse_users(values, users_secret)
    if authenticate and not users:
        raise ConfigError(
            "users",
            "no users",
            f"authenticate protects {', '.join(authenticate)}: add a user with "
            "`pulumi config set --secret --path 'users.NAME' PASSWORD`, or set authenticate to []",
        )
    if users and not authenticate:
        raise ConfigError(
            "authenticate", "[]", "users are configured but nothing is protected: list the actions to protect"
        )
    return authenticate, users, _parse_uploaders(values, users)


def _parse_server(values: Mapping[str, Any], production: bool) -> tuple[str, bool]:
    """pypiserver's server and whether the package volume is protected (production insists on both)."""
    server = _choice(values, "server", "gunicorn", SERVERS)
    if production and server != "gunicorn":
        # The upload guard and the upload audit are gunicorn hooks (components/in_container/gunicorn_conf.py).
        raise ConfigError("server", _show(server), "production runs gunicorn: the upload guard and audit need it")
    protect_packages = _bool(values, "protectPackages", True)
    if production and not protect_packages:
        raise ConfigError("protectPackages", "false", "production always protects and retains the package volume")
    return server, protect_packages
