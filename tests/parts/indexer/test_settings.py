"""The indexer's section (indexer/settings.py): yanked releases. Every bad value is refused naming the key."""

from __future__ import annotations

from components.settings import parse
from tests.support.stack_values import SECRETS, refusals, remote

# (stack, config, key named in the error, a fragment of what is accepted)
BAD = [
    ("staging", remote(yanked=["team-tool"]), "yanked", "'name==version' or 'name==version: reason'"),
    ("staging", remote(yanked=["team-tool>=1.0"]), "yanked", "'name==version' or 'name==version: reason'"),
    ("staging", remote(yanked=["team-tool==1.0: two\nlines"]), "yanked", "one line, 300 characters"),
]


test_bad_value_names_key_and_what_is_accepted = refusals(BAD)


def test_yanked_releases_are_keyed_by_pep_503_name_with_their_reasons():
    settings = parse(
        remote(yanked=["Team_Tool==1.2.0: broken wheel", "team-tool==1.3", "other.lib == 2.0rc1 :  bad  "]),
        "staging",
        SECRETS,
    )
    assert settings.indexer.yanked == {
        "team-tool": {"1.2.0": "broken wheel", "1.3": ""},
        "other-lib": {"2.0rc1": "bad"},
    }
    assert parse(remote(), "staging", SECRETS).indexer.yanked == {}
