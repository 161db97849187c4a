"""The front server's refusal of expired credentials, as rendered (front/logins.py); the real Caddy
runs it in tests/test_real_expiry.py."""

from __future__ import annotations

from components.front.logins import Logins, expired_check


def test_only_users_with_an_expiry_are_checked_after_their_authentication():
    logins = Logins({"alice": "$2b$hash", "ci": "$2b$hash"}, {"alice": 1800000000, "ghost": 1})
    assert expired_check(logins) == [
        "@expired expression `({http.auth.user.id} == 'alice' && int({time.now.unix}) >= 1800000000)`",
        'respond @expired "this credential has expired" 401',
    ]
    assert expired_check(logins, "@update")[0].startswith("@expired_update expression")
    assert expired_check(Logins({"ci": "$2b$hash"})) == []
    assert logins.only(("ci",)) == Logins({"ci": "$2b$hash"}, {})
