"""The operator's yanks (PEP 592) as the indexer reads them: `yanked.json` in the pages volume, written
by the program (components/indexer/resources.py). Nothing is deleted: the pages mark the files.
Standard library only: it runs inside the pypiserver image with the indexer (static_index.py).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable

# Beside this file (see static_index.py for the two ways it is run).
if __package__:
    from . import index_rules
else:
    import index_rules  # type: ignore[import-not-found, no-redef]

YANKED_FILE = "yanked.json"  # <output>/yanked.json: {project: {version: reason}}
READ_SECONDS = 30.0


class YankList:
    def __init__(self, output: str, shown: dict[str, dict[str, str]]):
        self.path = os.path.join(output, YANKED_FILE)
        self.shown = shown
        """project -> canonical version -> reason: the yanks the pages show."""
        self.seen: tuple[int, int, int] | None = None
        self.read_at = 0.0
        self.report: dict[tuple[str, str], bool] = {}

    def read(self) -> dict[str, dict[str, str]]:
        """What the operator yanked: project -> canonical version -> reason (absent file: nothing)."""
        try:
            with open(self.path, encoding="utf-8") as source:
                data = json.load(source)
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {
            index_rules.normalize(project): {index_rules.canonical_version(v): str(r) for v, r in versions.items()}
            for project, versions in data.items()
            if isinstance(versions, dict)
        }

    def changes(self, always: bool = False) -> tuple[dict[str, dict[str, str]], set[str]]:
        """The yanks now, and the projects whose yanks differ from the shown ones. The file is read
        when it was replaced or its time or size changed since the last look, and every READ_SECONDS
        in any case (two writes within one tick of the file system's clock leave the same mtime)."""
        try:
            stat = os.stat(self.path)
            seen: tuple[int, int, int] | None = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        except OSError:
            seen = None
        if seen == self.seen and not always and time.monotonic() - self.read_at < READ_SECONDS:
            return self.shown, set()
        self.seen, self.read_at = seen, time.monotonic()
        now = self.read()
        return now, {p for p in now.keys() | self.shown.keys() if now.get(p) != self.shown.get(p)}

    def reason(self, project: str, filename: str) -> str | None:
        """The reason a file is yanked ("" for none given), or None."""
        version = index_rules.canonical_version(index_rules.version_of(filename) or "")
        return self.shown.get(project, {}).get(version)

    def say(self, files_of: Callable[[str], Iterable[str]]) -> None:
        """Say in the journal what is yanked, and which yank names no file (a typo, or not yet uploaded)."""
        marked = {
            (project, version): any(
                index_rules.canonical_version(index_rules.version_of(name) or "") == version
                for name in files_of(project)
            )
            for project, versions in self.shown.items()
            for version in versions
        }
        if marked != self.report:
            for (project, version), matched in sorted(marked.items()):
                print(f"indexer: yanked {project} {version}" + ("" if matched else ": no such file here"), flush=True)
            self.report = marked
