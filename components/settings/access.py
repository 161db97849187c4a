"""Who may do what: the protected actions, the users and their passwords, who may upload, and the
cost of their hashes. Both the front server (which checks every protected request) and pypiserver
(which checks uploads again) read this section.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..config_reading import USER_NAME, ConfigError, read_int, read_list, show
from . import expiry, ownership, status

# pypiserver's actions, in its order.
ACTIONS = ("update", "download", "list")

MIN_PASSWORD = 12

# bcrypt only reads the first 72 bytes: a longer password would silently match its own prefix.
MAX_PASSWORD_BYTES = 72

# The image's passlib (1.7.4) verifies bcrypt at any cost from 4 to 31; above 14 each request
# takes seconds of CPU, because pypiserver verifies the hash on every authenticated request.
MIN_ROUNDS, MAX_ROUNDS = 4, 14

# The keys read only when someone logs in (besides users and authenticate).
USER_KEYS = ("uploaders", "metricsUsers", "bcryptRounds", *ownership.KEYS, *expiry.KEYS)


@dataclass(frozen=True)
class AccessSettings:
    authenticate: tuple[str, ...]
    """Protected actions; empty means no authentication at all (`-a . -P .`)."""
    users: Mapping[str, str] = field(repr=False)
    """User name -> password (secret: never printed)."""
    uploaders: tuple[str, ...]
    """The users who may upload (every user but the metrics users, unless the config names some)."""
    bcrypt_rounds: int
    owners: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Normalised project pattern -> the users who may publish the projects it matches (ownership.py)."""
    uncovered: str = "uploaders"
    """Who may publish a project no rule covers: `uploaders` (every user with the upload role) or `nobody`."""
    expires: Mapping[str, int] = field(default_factory=dict)
    """User -> the Unix time their credential stops working (expiry.py); users without one never expire."""
    statuses: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """PEP 503 name -> (PEP 792 status, reason) of the projects that are not active (status.py)."""
    metrics_users: tuple[str, ...] = ()
    """The users who may scrape the metrics, and do nothing else (no list, download or upload)."""

    @property
    def readers(self) -> tuple[str, ...]:
        """The users who may list and download: every user but the metrics users."""
        return tuple(name for name in sorted(self.users) if name not in self.metrics_users)


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
                f"user name {show(name)}",
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


def _user_names(values: Mapping[str, Any], key: str, users: Mapping[str, str], empty: str) -> list[str]:
    raw = read_list(values, key, [])
    for name in raw:
        if not isinstance(name, str) or name not in users:
            raise ConfigError(
                key,
                show(name),
                f"{key} are names from users ({', '.join(sorted(users)) or 'none configured'}); {empty}",
            )
    return raw


def _parse_metrics_users(values: Mapping[str, Any], users: Mapping[str, str]) -> tuple[str, ...]:
    """`metricsUsers`: the credentials a Prometheus scrapes with, which may do nothing else."""
    if not users:
        return ()
    metrics = tuple(sorted(set(_user_names(values, "metricsUsers", users, "[] (the default) for none"))))
    if metrics and set(metrics) == set(users):
        raise ConfigError(
            "metricsUsers", show(list(metrics)), "every user would only scrape: add a user who may use the index"
        )
    return metrics


def _parse_uploaders(values: Mapping[str, Any], users: Mapping[str, str], metrics: tuple[str, ...]) -> tuple[str, ...]:
    """`uploaders`: who may upload; [] (the default) means every user but the metrics users. Sorted,
    so order is no change."""
    if not users:
        return ()  # nobody logs in: `uploaders` does nothing, and ONLY_USED_WITH says so
    raw = _user_names(values, "uploaders", users, "[] lets every user upload")
    for name in raw:
        if name in metrics:
            raise ConfigError(
                "uploaders", show(name), "a metrics user (metricsUsers) may only scrape: use another user to upload"
            )
    return tuple(sorted(set(raw))) if raw else tuple(sorted(set(users) - set(metrics)))


def _parse_authenticate(values: Mapping[str, Any]) -> tuple[str, ...]:
    raw = read_list(values, "authenticate", list(ACTIONS))
    actions = []
    for action in raw:
        if action not in ACTIONS:
            raise ConfigError(
                "authenticate", show(action), f"protected actions are {', '.join(ACTIONS)} (a list; [] for none)"
            )
        if action not in actions:
            actions.append(action)
    # pypiserver's order, so the rendered arguments never change with the config's order.
    return tuple(a for a in ACTIONS if a in actions)


def parse_access(values: Mapping[str, Any], users_secret: bool, production: bool, now: float) -> AccessSettings:
    """What is protected, the users and their passwords, who may upload, consistent with each other.
    `now`: the time expiries are checked against (one in the past is refused)."""
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
    if production and authenticate != ACTIONS:
        raise ConfigError("authenticate", show(list(authenticate)), "production protects update, download and list")
    metrics = _parse_metrics_users(values, users)
    uploaders = _parse_uploaders(values, users, metrics)
    return AccessSettings(
        authenticate,
        users,
        uploaders,
        read_int(values, "bcryptRounds", 10, MIN_ROUNDS, MAX_ROUNDS),
        {p: tuple(u) for p, u in ownership.parse_owners(values, users, uploaders, authenticate).items()},
        ownership.parse_uncovered(values),
        expiry.parse_expires(values, users, now),
        status.parse_statuses(values),
        metrics,
    )
