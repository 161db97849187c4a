"""The pypi-index policy pack (see rules.py), run by `pulumi preview|up --policy-pack policy`.

Only this file builds the PolicyPack: the constructor starts the analyzer's gRPC server and serves until
the engine stops it, so nothing else may import this file. The rules are listed in rules.py (each lives
in a module by what it guards), which imports without side effects (the tests call them directly).
"""

from pulumi_policy import EnforcementLevel, PolicyPack

from policy.rules import PACK_NAME, POLICIES

PolicyPack(
    name=PACK_NAME,
    policies=POLICIES,
    # Advisory unless a config file says otherwise: production.json makes the rules mandatory.
    enforcement_level=EnforcementLevel.ADVISORY,
)
