"""Stand-in commands for tests that run real scripts: small sh programs put first on PATH."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def put_on_path(folder: Path, monkeypatch: pytest.MonkeyPatch, **programs: str) -> Path:
    """Write each program (name -> sh text) into `folder`, executable, and put `folder` first on PATH."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in programs.items():
        (folder / name).write_text(text)
        (folder / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return folder
