"""Credentials that expire (settings/expiry.py): `expires`, checked at preview."""

from __future__ import annotations

import datetime

from components.settings import parse
from components.settings.expiry import expiry_warnings
from tests.support.stack_values import PASSWORD, SECRETS, refusals, remote

NOW = datetime.datetime(2027, 1, 1, tzinfo=datetime.UTC).timestamp()
TEAM = {"ci": PASSWORD, "alice": PASSWORD}


def team(**changes):
    return remote(users=TEAM, **changes)


BAD = [
    ("staging", team(expires=["alice"]), "expires", "expected 'USER: DATE-TIME'"),
    ("staging", team(expires=["alice: next tuesday"]), "expires", "an ISO 8601 time such as 2027-01-31T18:00:00Z"),
    ("staging", team(expires=["alice: 2099-13-01T00:00:00Z"]), "expires", "ISO 8601"),
    ("staging", team(expires=["alice: 2099-01-31T18:00:00"]), "expires", "give the time's UTC offset"),
    ("staging", team(expires=["alice: 2099-01-31"]), "expires", "give the time's UTC offset"),
    ("staging", team(expires=["bob: 2099-01-31T18:00:00Z"]), "expires", "no such user (users: alice, ci)"),
    ("staging", team(expires=["alice: 2020-01-31T18:00:00Z"]), "expires", "that time has passed"),
    (
        "staging",
        team(expires=["alice: 2099-01-31T18:00:00Z", "alice: 2098-01-31T18:00:00Z"]),
        "expires",
        "alice has an expiry already",
    ),
]

test_bad_expiries_are_refused_at_preview = refusals(BAD)


def test_an_expiry_is_read_with_its_offset_as_a_moment():
    access = parse(team(expires=["alice: 2027-01-31T19:00:00+01:00"]), "staging", SECRETS, now=NOW).access
    assert access.expires == {"alice": int(datetime.datetime(2027, 1, 31, 18, tzinfo=datetime.UTC).timestamp())}


def test_preview_warns_of_credentials_expiring_within_fourteen_days():
    day = 86400
    expires = {"alice": int(NOW + 13.5 * day), "ci": int(NOW + 15 * day)}
    assert expiry_warnings(expires, NOW) == [
        "the credential of alice expires in 13.5 days (2027-01-14T12:00:00+00:00): renew it, or remove the user"
    ]
    assert expiry_warnings({"ci": int(NOW + 15 * day)}, NOW) == []
