"""When credentials expire: `expires`, `USER: DATE-TIME` (ISO 8601 with its UTC offset) per user.

The front server refuses an expired credential at request time (front/logins.py) and the upload
guard refuses its uploads (in_container/project_access.py), both by their own clock, so a credential
stops working at its time without any deploy. Preview refuses a time already past and warns about one
within WARN_DAYS.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from ..config_reading import ConfigError, read_list, show

KEYS = ("expires",)
WARN_DAYS = 14


def _when(entry: str, user: str, text: str) -> int:
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            "expires", show(entry), "expected 'USER: DATE-TIME', an ISO 8601 time such as 2027-01-31T18:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise ConfigError("expires", show(entry), f"give the time's UTC offset, e.g. {text}Z or {text}+01:00")
    return int(moment.timestamp())


def parse_expires(values: Mapping[str, Any], users: Mapping[str, str], now: float) -> dict[str, int]:
    """User -> the Unix time their credential stops working. Every user exists; no time is past."""
    expires: dict[str, int] = {}
    if not users:
        return expires  # nobody logs in: ONLY_USED_WITH says the key does nothing
    for entry in read_list(values, "expires", []):
        if not isinstance(entry, str) or ":" not in entry:
            raise ConfigError("expires", show(entry), "expected 'USER: DATE-TIME', e.g. 'alice: 2027-01-31T18:00:00Z'")
        user, text = (part.strip() for part in entry.split(":", 1))
        if user not in users:
            raise ConfigError("expires", show(entry), f"no such user (users: {', '.join(sorted(users))})")
        if user in expires:
            raise ConfigError("expires", show(entry), f"{user} has an expiry already: keep one")
        when = _when(entry, user, text)
        if when <= now:
            raise ConfigError(
                "expires", show(entry), f"that time has passed: remove {user} from users, or give a later time"
            )
        expires[user] = when
    return expires


def expiry_warnings(expires: Mapping[str, int], now: float) -> list[str]:
    """One warning per credential that stops working within WARN_DAYS (preview prints them)."""
    soon = now + WARN_DAYS * 86400
    return [
        f"the credential of {user} expires in {(when - now) / 86400:.1f} days "
        f"({datetime.datetime.fromtimestamp(when, datetime.UTC).isoformat()}): renew it, or remove the user"
        for user, when in sorted(expires.items())
        if when <= soon
    ]
