"""Who may log in at the front server: each user's bcrypt hash, and when a user's credential expires.

An expired credential is refused at request time, with no deploy: after `basic_auth` has verified a
user, an expression compares Caddy's clock with the user's expiry. `{time.now.unix}` is Caddy's clock
read on every use (caddyserver/caddy replacer.go, globalDefaultReplacements: `nowFunc().Unix()` as a
decimal string, hence `int(...)`), and `{http.auth.user.id}` the user basic_auth verified
(modules/caddyhttp/caddyauth/caddyauth.go sets it). In a `handle` block Caddy orders basic_auth before
respond (caddyconfig/httpcaddyfile/directives.go, defaultDirectiveOrder); in a `route` block the lines
keep their order, and the check is written right after the authentication.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

EXPIRED_ANSWER = "this credential has expired"


@dataclass(frozen=True)
class Logins:
    hashes: Mapping[str, str] = field(repr=False)
    """User -> bcrypt hash (secret)."""
    expires: Mapping[str, int] = field(default_factory=dict)
    """User -> the Unix time their credential stops working (users without one never expire)."""

    def only(self, users: tuple[str, ...]) -> Logins:
        return Logins({u: self.hashes[u] for u in users}, {u: t for u, t in self.expires.items() if u in users})


def expired_check(logins: Logins, after: str = "") -> list[str]:
    """Caddyfile lines (for a handle or route block, after basic_auth): 401 for an expired credential.
    `after`: the basic_auth's own matcher (`@update`), which names this one apart in the same block."""
    name = f"@expired{after.replace('@', '_')}"
    expiring = sorted((u, t) for u, t in logins.expires.items() if u in logins.hashes)
    if not expiring:
        return []
    # User names are letters, digits and `._-@` (config_reading.USER_NAME): nothing to escape in a CEL string.
    test = " || ".join(f"({{http.auth.user.id}} == '{u}' && int({{time.now.unix}}) >= {t})" for u, t in expiring)
    return [f"{name} expression `{test}`", f'respond {name} "{EXPIRED_ANSWER}" 401']
