"""What the indexer reads from one file of the store: its hash, size and time, and for a wheel its core
metadata and Requires-Python, by index_rules.py's rules. Standard library only: it runs inside the
pypiserver image with the indexer (static_index.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import os

# Beside this file (see static_index.py for the two ways it is run).
if __package__:
    from . import fs, index_rules
else:
    import fs  # type: ignore[import-not-found, no-redef]
    import index_rules  # type: ignore[import-not-found, no-redef]

READING_FILE = ".reading"  # <output>/.reading: the wheel being read, while it is read


class FileReader:
    def __init__(self, output: str):
        self.reading_file = os.path.join(output, READING_FILE)
        self.poisoned: str | None = None
        """A file the indexer was reading when it last died (see `describe`)."""
        with contextlib.suppress(OSError), open(self.reading_file, encoding="utf-8") as source:
            self.poisoned = source.read().strip() or None

    def describe(self, name: str, path: str, stat: os.stat_result) -> tuple[dict, bytes | None]:
        """What the pages say of a file, and its core metadata (None for an sdist or a wheel without)."""
        info: dict = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": fs.sha256(path)}
        # Reading a wheel is the one step an upload's content decides. If the indexer died during it
        # (killed for memory, say), the file it was reading is noted, and after the restart it is
        # listed without metadata instead of killing the indexer again, forever.
        metadata = None
        if name == self.poisoned:
            print(f"indexer: {name!r} stopped the indexer while it was read: listed without metadata", flush=True)
            with contextlib.suppress(OSError):
                os.remove(self.reading_file)
        elif name.endswith(".whl"):
            fs.write_text(self.reading_file, name)
            try:
                metadata = index_rules.wheel_metadata(path)
            finally:
                os.remove(self.reading_file)  # the record is for a kill during the read, not an error
        info["metadata_sha256"] = hashlib.sha256(metadata).hexdigest() if metadata is not None else None
        info["requires_python"] = index_rules.requires_python(metadata)
        return info, metadata
