"""Who may publish what (settings/ownership.py): `owners` and `uncoveredProjects`, refused at preview
when a rule could never apply as written."""

from __future__ import annotations

from components.settings import parse
from components.settings.ownership import access_file
from tests.support.stack_values import PASSWORD, SECRETS, refusals, remote

TEAM = {"ci": PASSWORD, "alice": PASSWORD, "ci-acme": PASSWORD, "reader": PASSWORD}
UPLOADERS = ["ci", "alice", "ci-acme"]


def team(**changes):
    return remote(users=TEAM, uploaders=UPLOADERS, **changes)


# (stack, config, key named in the error, a fragment of what is accepted)
BAD = [
    ("staging", team(owners=["acme-*"]), "owners", "expected 'PATTERN: user, user'"),
    ("staging", team(owners=[{"acme-*": "alice"}]), "owners", "expected 'PATTERN: user, user'"),
    ("staging", team(owners=["acme/*: alice"]), "owners", "letters, digits"),
    ("staging", team(owners=["acme *: alice"]), "owners", "letters, digits"),
    ("staging", team(owners=[": alice"]), "owners", "letters, digits"),
    ("staging", team(owners=["-acme: alice"]), "owners", "no name can match it"),
    ("staging", team(owners=["acme-: alice"]), "owners", "no name can match it"),
    ("staging", team(owners=["*_: alice"]), "owners", "no name can match it"),
    ("staging", team(owners=["acme-*: bob"]), "owners", "no such user (users: alice, ci, ci-acme, reader)"),
    ("staging", team(owners=["acme-*: reader"]), "owners", "reader may only read: add them to uploaders"),
    ("staging", team(owners=["acme-*: alice", "ACME_*: ci"]), "owners", "'acme-*' has a rule already"),
    ("staging", team(uncoveredProjects="anyone"), "uncoveredProjects", "expected one of uploaders, nobody"),
    (
        "staging",
        team(owners=["acme-*: alice"], authenticate=["download", "list"]),
        "owners",
        "add update to authenticate",
    ),
]

test_bad_owners_are_refused_at_preview = refusals(BAD)


def test_rules_are_read_on_the_normalised_name_and_default_to_every_uploader():
    access = parse(team(owners=["Acme_*: alice, ci-acme", "tool: "]), "staging", SECRETS).access
    assert access.owners == {"acme-*": ("alice", "ci-acme"), "tool": ()}
    assert access.uncovered == "uploaders"
    assert parse(team(uncoveredProjects="nobody"), "staging", SECRETS).access.uncovered == "nobody"
    assert parse(team(), "staging", SECRETS).access.owners == {}


def test_the_delivered_file_is_the_same_text_for_the_same_rules():
    one = parse(team(owners=["acme-*: ci-acme, alice"]), "staging", SECRETS).access
    two = parse(team(owners=["ACME.*: alice ci-acme"]), "staging", SECRETS).access
    assert access_file(one.owners, one.uncovered, one.expires, one.statuses) == access_file(
        two.owners, two.uncovered, two.expires, two.statuses
    )
    assert '"acme-*"' in access_file(one.owners, one.uncovered, one.expires, one.statuses)
