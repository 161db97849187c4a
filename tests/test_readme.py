"""The README's runnable blocks are found as the tests that run them expect (a marker the parser missed
would mean a command nobody runs)."""

from __future__ import annotations

import re

from tests.support import readme_commands

# Where each kind of block is run: tests/host/test_readme_commands.py (dev), test_deploy (host),
# machine.TestHost (new-host) and conftest.running_backup_server (backup-server).
KINDS = {"dev", "host", "new-host", "backup-server"}


def test_every_marked_block_is_found_and_run_somewhere():
    text = readme_commands.README.read_text()
    markers = re.findall(r"<!-- readme-commands: (\S+) -->", text)
    assert set(markers) == KINDS, markers
    found = sum(len(readme_commands.blocks(kind)) for kind in KINDS)
    assert found == len(markers), "a marker is not directly followed by a ```sh block"
    assert all(commands for kind in KINDS for commands in readme_commands.blocks(kind))


def test_following_commands_are_recognised():
    assert readme_commands.follows("ssh HOST sudo journalctl -u pypiserver -f")
    assert readme_commands.follows("docker logs --follow pypiserver")
    assert not readme_commands.follows("ssh HOST systemctl status pypiserver")
    assert not readme_commands.follows("ls -fa  # -f in a comment does not count")
