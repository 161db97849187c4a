"""The deploy's health gate, run for real (sh) against stand-in `curl` and `docker` commands that
answer as a healthy front server and an indexer that has, or has not, written its reading."""

from __future__ import annotations

import os
import subprocess

import pytest

from components.supervision import scripts
from tests.support.stand_ins import put_on_path

READING = scripts.IndexerReading("idx-front", "/srv/index/.disk", "/srv/index/.indexer", "idx-indexer")

# `docker exec idx-front cat <file>` reads the volume; `docker inspect --format ... idx-indexer` names
# the deployed indexer; anything else (the diagnostics) says what it was asked.
FAKE_DOCKER = """#!/bin/sh
case "$*" in
  "exec idx-front cat /srv/index/.disk") echo "34.6 GiB free of 252.0 GiB" ;;
  "exec idx-front cat /srv/index/.indexer") echo "$MARK" ;;
  "inspect --format {{.Config.Hostname}} idx-indexer") echo "deployed0001" ;;
  *) echo "docker $*" ;;
esac
"""


@pytest.fixture
def gate(tmp_path, monkeypatch):
    put_on_path(tmp_path / "bin", monkeypatch, docker=FAKE_DOCKER, curl="#!/bin/sh\nexit 0\n")

    def run(mark: str) -> subprocess.CompletedProcess:
        script = scripts.health_gate("127.0.0.1", 8443, "127.0.0.1", ["idx-indexer"], 2, READING)
        env = {**os.environ, "MARK": mark}
        return subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=30, env=env)

    return run


def test_the_gate_passes_once_the_deployed_indexer_wrote_the_reading(gate):
    result = gate("deployed0001")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "disk: 34.6 GiB free of 252.0 GiB"


@pytest.mark.parametrize("mark", ["earlier00001", ""], ids=["an-earlier-indexer", "no-indexer-yet"])
def test_a_reading_the_deployed_indexer_did_not_write_fails_the_deploy_with_the_indexer_state(gate, mark):
    """The pages volume outlives indexers: a new one that cannot start (seen with the real engine:
    its program unreadable, restarting forever) must not pass on its predecessor's reading, nor on
    none at all (a first deploy)."""
    result = gate(mark)
    assert result.returncode == 1
    assert "or its indexer wrote nothing, within 2 s" in result.stderr
    assert "docker logs --tail 20 idx-indexer" in result.stderr, "the failure shows the indexer's log"
