"""The pack's own files: its configuration files, entry point, project and requirements. The engine
serving and configuring it: test_through_the_engine.py."""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import runpy
import subprocess
import sys
from typing import Any
from unittest import mock

import pulumi_policy
import pytest
import yaml
from pulumi_policy import EnforcementLevel

from tests.support.policy_pack import (
    NAMES,
    POLICY_DIR,
    RULE,
    engine_config,
    rules,
)
from tests.support.recorded import ROOT

ADVICE = ("ownership-declared", "upload-credentials-expire")


@pytest.mark.parametrize(("config_file", "level"), [("production.json", "mandatory"), ("staging.json", "advisory")])
def test_config_file_sets_every_policy_and_only_policies_of_the_pack(config_file, level):
    given = json.loads((POLICY_DIR / config_file).read_text())
    assert set(given) == set(NAMES), "a misspelt name is silently ignored by the engine"
    for name, value in given.items():
        if isinstance(value, dict):
            # The engine validates the properties against the policy's schema; so do we, by type.
            props = {k: v for k, v in value.items() if k != "enforcementLevel"}
            schema = RULE[name].config
            for key, val in props.items():
                assert key in schema, (name, key)
                expected = {"boolean": bool, "array": list, "integer": int, "string": str}[schema[key]["type"]]
                assert isinstance(val, expected), (name, key)
    levels = {name: lvl for name, (lvl, _) in engine_config(POLICY_DIR / config_file).items()}
    # Who may publish what is advice for production (its rules are the operator's to write) and no
    # concern of staging; every other rule has the stack's level.
    expected_here = {"production.json": "advisory", "staging.json": "disabled"}[config_file]
    assert {name: lvl for name, lvl in levels.items() if name in ADVICE} == dict.fromkeys(ADVICE, expected_here)
    assert {lvl for name, lvl in levels.items() if name not in ADVICE} == {level}


def test_production_requires_digests_and_staging_does_not():
    assert engine_config(POLICY_DIR / "production.json")["image-pinned"][1]["requireDigest"] is True
    assert engine_config(POLICY_DIR / "staging.json")["image-pinned"][1]["requireDigest"] is False


def test_policies_are_named_uniquely_and_described():
    assert len(NAMES) == len(set(NAMES)) == 10
    for policy in rules.POLICIES:
        assert policy.description and policy.enforcement_level is None, "the pack's default or the config decides"


def test_main_builds_only_the_policy_pack(capsys):
    built: list[dict[str, Any]] = []
    with mock.patch.object(pulumi_policy, "PolicyPack", side_effect=lambda **kwargs: built.append(kwargs)):
        runpy.run_path(str(POLICY_DIR / "__main__.py"), run_name="__main__")
    assert capsys.readouterr() == ("", ""), "the engine reads the analyzer's port from stdout: nothing else goes there"
    assert len(built) == 1
    pack = built[0]
    assert pack["name"] == rules.PACK_NAME and pack["enforcement_level"] == EnforcementLevel.ADVISORY
    assert [p.name for p in pack["policies"]] == NAMES


def test_rules_import_without_starting_a_server_or_the_providers_sdks():
    # PolicyPack(...) serves forever; rules.py must import, and its interpreter exit, without one. The
    # pack's own environment has pulumi and pulumi-policy only: what it reads of the program
    # (program_facts.py) must import without the providers' SDKs, here made unimportable.
    blocked = "import sys; sys.modules.update(pulumi_docker=None, pulumi_command=None); "
    result = subprocess.run(
        [sys.executable, "-c", blocked + "from policy import rules; print(len(rules.POLICIES))"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0 and result.stdout == "10\n", result.stderr[-2000:]


def test_pack_project_and_requirements():
    project = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python" and project["runtime"]["options"]["virtualenv"] == "venv"
    assert project["description"]
    pins = dict(
        line.split("==")
        for line in (POLICY_DIR / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    assert pins["pulumi-policy"] == importlib.metadata.version("pulumi-policy")
    root = (ROOT / "requirements.txt").read_text()
    assert f"pulumi=={pins['pulumi']}" in root.splitlines(), "the pack and the program use the same pulumi"
