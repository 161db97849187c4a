"""The pages volume as the indexer writes it: a folder of two pages per project, the root pages, and
the core metadata of wheels, each file replaced whole (fs.py), so the front server never serves half
of one. Standard library only: it runs inside the pypiserver image with the indexer (static_index.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import os

# Beside this file (see static_index.py for the two ways it is run).
if __package__:
    from . import file_records, fs, index_rules, simple_pages
else:
    import file_records  # type: ignore[import-not-found, no-redef]
    import fs  # type: ignore[import-not-found, no-redef]
    import index_rules  # type: ignore[import-not-found, no-redef]
    import simple_pages  # type: ignore[import-not-found, no-redef]

METADATA_DIR = "metadata"  # <output>/metadata/<file>.metadata: /packages/<file>.metadata for clients


class PageTree:
    def __init__(self, output: str):
        self.simple = os.path.join(output, "simple")
        self.metadata = os.path.join(output, METADATA_DIR)

    def _page(self, project: str, kind: str) -> str:
        return os.path.join(self.simple, project, f"index.{kind}")

    def write_project(self, project: str, files: dict[str, dict], status: tuple[str, str] | None = None) -> None:
        fs.write_text(self._page(project, "json"), simple_pages.render_project_json(project, files, status))
        fs.write_text(self._page(project, "html"), simple_pages.render_project(project, files, status))

    def remove_project(self, project: str) -> None:
        for kind in ("json", "html"):
            with contextlib.suppress(OSError):
                os.remove(self._page(project, kind))
        with contextlib.suppress(OSError):
            os.rmdir(os.path.join(self.simple, project))

    def write_root(self, projects: list[str]) -> None:
        fs.write_text(os.path.join(self.simple, "index.json"), simple_pages.render_root_json(projects))
        fs.write_text(os.path.join(self.simple, "index.html"), simple_pages.render_root(projects))

    def has_root(self) -> bool:
        return os.path.exists(os.path.join(self.simple, "index.html"))

    def project_folders(self) -> list[str]:
        return fs.subfolders(self.simple)

    def write_metadata(self, name: str, data: bytes) -> None:
        fs.write_bytes(os.path.join(self.metadata, name + ".metadata"), data)

    def remove_metadata(self, name: str) -> None:
        with contextlib.suppress(OSError):
            os.remove(os.path.join(self.metadata, name + ".metadata"))

    def metadata_of(self) -> list[str]:
        """The files that have a metadata file."""
        return [name.removesuffix(".metadata") for name in fs.names(self.metadata) if name.endswith(".metadata")]


def makers_key(statuses: str = "") -> str:
    """What makes the pages: the record's format, the renderers, the naming rules and the projects'
    statuses (`statuses`, their text). Pages made by others are all rewritten at the start (once, after
    an upgrade or a change of statuses, which replaces the indexer)."""
    digest = hashlib.sha256(file_records.FORMAT.encode() + statuses.encode())
    for module in (simple_pages, index_rules):
        with open(module.__file__ or "", "rb") as source:
            digest.update(source.read())
    return digest.hexdigest()
