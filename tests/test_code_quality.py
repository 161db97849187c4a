"""ruff (lint and format) and mypy over the whole repository, as part of the test command."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.support.index_client import BIN
from tests.support.recorded import ROOT


@pytest.mark.parametrize(
    ("command", "mypy_path"),
    [
        (["ruff", "check", "."], None),
        (["ruff", "format", "--check", "."], None),
        (["mypy"], None),  # files and options: pyproject.toml (the program, the policy pack, tests, bench)
        # What runs inside the pypiserver image runs on ITS Python: the official image is built on
        # python:3.10, our stand-in on Debian's 3.11 (tests/host/files/pypiserver/Dockerfile).
        (
            [
                "mypy",
                "--python-version",
                "3.10",
                "components/in_container/",
            ],
            None,
        ),
    ],
    ids=["ruff-check", "ruff-format", "mypy", "mypy-image-python"],
)
def test_clean(command, mypy_path):
    env = {**os.environ, **({"MYPYPATH": mypy_path} if mypy_path else {})}
    result = subprocess.run([str(BIN / command[0]), *command[1:]], cwd=ROOT, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
