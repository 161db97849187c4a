"""Supervision's section (supervision/settings.py): the health gate's bound. Every bad value is refused
naming the key."""

from __future__ import annotations

from tests.support.stack_values import refusals, remote

# (stack, config, key named in the error, a fragment of what is accepted)
BAD = [
    ("staging", remote(healthTimeoutSeconds="0"), "healthTimeoutSeconds", "from 5"),
]


test_bad_value_names_key_and_what_is_accepted = refusals(BAD)
