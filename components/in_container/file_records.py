"""The indexer's record of the store: one row per listed file (what its pages say of it), in sqlite3.

Why sqlite3 (in the standard library, so in the pypiserver image) rather than one JSON document or a
record file per project: a change to one file writes one row (the JSON document was serialised whole
on every change: 17.7 MB at 100,000 files); rows are clustered by project, so a project's pages are
one range read; a full comparison with the store holds neither (per-bucket sums, below); and a
transaction keeps the rows, the sums and the journal of unfinished page writes together. One file per project would have given the first two, but a comparison would have
opened every project's file, and no transaction would have covered a file moving between projects.

The journal (`unfinished`): before a batch of files is read, their names are committed there; the rows
follow; once their pages, metadata and root pages are written, the journal forgets them. An indexer
that dies in between finds them at its next start and reads and writes them again, so no page or
metadata file outlives a crash in a state the record does not describe.

The sums (`sums`): the files are spread over 65,536 buckets by their name, and each bucket keeps the
count of its files and the XOR of a 64-bit hash of each one's (name, size, mtime). A comparison with
the store stats each file and sums the listing the same way (no lookup per file); only buckets whose
sums differ are listed again and compared file by file. Unchanged, a million files cost their stats
and a hash each.

Runs inside the pypiserver image (Python 3.10): standard library only.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import sqlite3
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping

FORMAT = "1"
"""What a row means. Bump it when a record's fields or how they are read change (a new field, another
rule for wheel metadata): a record of another format is dropped and rebuilt by reading the store."""

COLUMNS = ("size", "mtime_ns", "sha256", "metadata_sha256", "requires_python")  # what a page says, in order
SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    project TEXT NOT NULL,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    metadata_sha256 TEXT,
    requires_python TEXT,
    bucket INTEGER NOT NULL,
    PRIMARY KEY (project, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sums (bucket INTEGER PRIMARY KEY, files INTEGER NOT NULL, hashes INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS unfinished (project TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (project, name));
CREATE TABLE IF NOT EXISTS facts (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# A comparison's buckets whose sums differ, the store's files in them, and what differs (temporary).
DIFFERING = """
DROP TABLE IF EXISTS temp.doubtful; DROP TABLE IF EXISTS temp.listed; DROP TABLE IF EXISTS temp.differing;
CREATE TEMP TABLE doubtful (bucket INTEGER PRIMARY KEY);
CREATE TEMP TABLE listed (name TEXT NOT NULL, project TEXT, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL);
"""
COMPARED = """
CREATE INDEX temp.listed_by_name ON listed (name);
CREATE TEMP TABLE differing AS
    SELECT name FROM (
        SELECT l.name FROM listed l LEFT JOIN files f ON f.project = l.project AND f.name = l.name
        WHERE f.name IS NULL OR f.size != l.size OR f.mtime_ns != l.mtime_ns
        ORDER BY l.name
    )
    UNION ALL
    SELECT f.name FROM files f
    WHERE f.bucket IN (SELECT bucket FROM doubtful) AND NOT EXISTS (SELECT 1 FROM listed l WHERE l.name = f.name);
"""
MASK = (1 << 64) - 1
WHOLE_PROJECT = ""  # the journal's file name for a change to a project's pages alone (a yank)
_STAT = struct.Struct("<qq")
BUCKETS = 1 << 16


def bucket(encoded: bytes) -> int:
    return zlib.crc32(encoded) & (BUCKETS - 1)


def stat_hash(encoded: bytes, size: int, mtime_ns: int) -> int:
    """64 bits of a file's (name, size, mtime): a change to any of them changes its bucket's XOR."""
    return int.from_bytes(hashlib.blake2b(encoded + _STAT.pack(size, mtime_ns), digest_size=8).digest(), "little")


Change = tuple[str, str, "dict | None"]
"""(project, file name, what the pages say of the file; None: no longer listed)."""


class FileRecords(Mapping[str, dict]):
    """File name -> {size, mtime_ns, sha256, metadata_sha256, requires_python}, kept in `path`; a
    file's project is `project_of` its name (index_rules.project_of)."""

    def __init__(self, path: str, project_of: Callable[[str], str | None]):
        self.project_of = project_of
        try:
            self.db = self._open(path)
        except sqlite3.DatabaseError as error:  # not a database (any more): the store is read again
            print(f"indexer: the record {path} is unreadable ({error}): it is made again", flush=True)
            for stale in (path, f"{path}-wal", f"{path}-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(stale)
            self.db = self._open(path)
        self.fresh = self.fact("format") != FORMAT or self.db.execute("SELECT 1 FROM files LIMIT 1").fetchone() is None
        """No record to trust: every file is read and every page written, as for a new pages volume."""
        if self.fact("format") != FORMAT:
            tables = ("DELETE FROM files", "DELETE FROM sums", "DELETE FROM unfinished", "DELETE FROM facts")
            self._write(*((statement, [()]) for statement in tables))
            self.set_fact("format", FORMAT)

    @staticmethod
    def _open(path: str) -> sqlite3.Connection:
        # Autocommit, with explicit transactions: the module's implicit ones differ between 3.10 and 3.12.
        # One thread at a time, but not always the one that opened it (the tests run `run` in a thread).
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        # WAL: a commit appends to the log instead of rewriting pages, and NORMAL syncs only at
        # checkpoints. A power cut may lose the last commits; the record then predates the pages,
        # and the start's comparison reads again what differs, as after a change made while stopped.
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(SCHEMA)
        db.execute("SELECT count(*) FROM sums").fetchone()  # reads a page of the file: fails if it is not sqlite's
        return db

    def _write(self, *statements: tuple[str, Iterable[tuple]]) -> None:
        """Each statement run for each of its parameter rows, all in one transaction."""
        self.db.execute("BEGIN")
        for statement, rows in statements:
            self.db.executemany(statement, rows)
        self.db.execute("COMMIT")

    def fact(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM facts WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_fact(self, key: str, value: str, journal: Iterable[str] = ()) -> None:
        """Set a fact; the projects in `journal` have pages to write again because of it."""
        self._write(
            ("INSERT OR REPLACE INTO facts VALUES (?, ?)", [(key, value)]),
            ("INSERT OR IGNORE INTO unfinished VALUES (?, ?)", [(p, WHOLE_PROJECT) for p in journal]),
        )

    # Mapping: what the pages say of one file.
    def __getitem__(self, name: str) -> dict:
        query = (
            "SELECT size, mtime_ns, sha256, metadata_sha256, requires_python FROM files WHERE project = ? AND name = ?"
        )
        row = self.db.execute(query, (self.project_of(name), name)).fetchone()
        if row is None:
            raise KeyError(name)
        return dict(zip(COLUMNS, row, strict=True))

    def __iter__(self) -> Iterator[str]:
        return (name for (name,) in self.db.execute("SELECT name FROM files"))

    def __len__(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM files").fetchone()[0])

    def totals(self) -> tuple[int, int]:
        """(files, bytes) the record lists."""
        files, size = self.db.execute("SELECT count(*), coalesce(sum(size), 0) FROM files").fetchone()
        return int(files), int(size)

    def of_project(self, project: str) -> dict[str, dict]:
        query = "SELECT name, size, mtime_ns, sha256, metadata_sha256, requires_python FROM files WHERE project = ?"
        return {row[0]: dict(zip(COLUMNS, row[1:], strict=True)) for row in self.db.execute(query, (project,))}

    def projects(self) -> set[str]:
        return {project for (project,) in self.db.execute("SELECT DISTINCT project FROM files")}

    def expect(self, changing: Iterable[tuple[str, str]]) -> None:
        """Journal (project, name) before the files are read: their metadata is written as they are."""
        self._write(("INSERT OR IGNORE INTO unfinished VALUES (?, ?)", list(changing)))

    def change(self, changes: list[Change]) -> None:
        """Rows written or removed, in one transaction."""
        removed = [(project, name) for project, name, info in changes if info is None]
        rows = [(p, n, *(info.get(c) for c in COLUMNS)) for p, n, info in changes if info is not None]
        self._replace(removed, rows)

    def _replace(self, removed: list[tuple[str, str]], rows: list[tuple]) -> None:
        """Remove the rows of `removed` and put `rows` (project, name, *COLUMNS) in place of any of the
        same keys, and bring the sums of their buckets in step, in one transaction."""
        keys = removed + [row[:2] for row in rows]
        query = "SELECT name, size, mtime_ns FROM files WHERE project = ? AND name = ?"
        before = [row for key in keys for row in self.db.execute(query, key)]
        counts: dict[int, list[int]] = {}
        for sign, (name, size, mtime_ns) in [(-1, row) for row in before] + [(1, row[1:4]) for row in rows]:
            encoded = name.encode("utf-8", "surrogateescape")
            count = counts.setdefault(bucket(encoded), [0, 0])
            count[0] += sign
            count[1] ^= stat_hash(encoded, size, mtime_ns)
        sums = []
        for number, (files, hashes) in counts.items():
            row = self.db.execute("SELECT files, hashes FROM sums WHERE bucket = ?", (number,)).fetchone() or (0, 0)
            sums.append((number, row[0] + files, _signed(row[1] & MASK ^ hashes)))
        self._write(
            ("DELETE FROM files WHERE project = ? AND name = ?", keys),
            (
                "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(*row, bucket(row[1].encode("utf-8", "surrogateescape"))) for row in rows],
            ),
            ("INSERT OR REPLACE INTO sums VALUES (?, ?, ?)", sums),
        )

    def unfinished(self) -> list[tuple[str, str]]:
        """(project, file name or WHOLE_PROJECT) whose pages may not say what the record says."""
        return list(self.db.execute("SELECT project, name FROM unfinished"))

    def finished(self, projects: Iterable[str]) -> None:
        """The pages of `projects` (and the metadata of their files) say what the record says."""
        self._write(("DELETE FROM unfinished WHERE project = ?", [(p,) for p in projects]))

    def doubt(self, keys: Iterable[tuple[str, str]]) -> None:
        """Make the next look at each (project, name) read the file again, whatever its size and time."""
        query = "SELECT * FROM files WHERE project = ? AND name = ?"
        rows = [row[:-1] for key in keys for row in self.db.execute(query, key)]
        self._replace([], [(*row[:3], -1, *row[4:]) for row in rows])  # an mtime no file has

    def reproject(self) -> None:
        """Each row under the project `project_of` its name says now (None: no longer listed), after
        the naming rules changed. Reads names only, never a file."""
        moved = [row[:-1] for row in self.db.execute("SELECT * FROM files") if self.project_of(row[1]) != row[0]]
        self._replace([row[:2] for row in moved], [(p, *row[1:]) for row in moved if (p := self.project_of(row[1]))])

    def take_over(self, path: str) -> bool:
        """An earlier indexer's record (one JSON document, file name -> what the pages say) becomes
        this one's, so an upgrade reads no file again; it is removed. Whether there was one."""
        try:
            with open(path, encoding="utf-8") as source:
                earlier = json.load(source)
        except (OSError, ValueError):
            return False
        # In the record's order, as `differing` explains, and in chunks that free the document as they
        # go: it held the earlier indexer's whole record, which its memory limit allowed.
        names = sorted(earlier) if isinstance(earlier, dict) else []
        for start in range(0, len(names), 4096):
            chunk = [(name, earlier.pop(name)) for name in names[start : start + 4096]]
            self.change(
                sorted(
                    (project, name, info)
                    for name, info in chunk
                    if (project := self.project_of(name)) is not None
                    and isinstance(info, dict)
                    and {"size", "mtime_ns", "sha256"} <= info.keys()
                )
            )
        os.remove(path)
        return True

    def differing(
        self, listing: Callable[[Callable[[str], bool] | None], Iterable[tuple[str, int, int]]]
    ) -> Iterator[str]:
        """Compare the store with the record: the names listed whose record is missing or says another
        size or time, in name order (rows next to each other are written together: a new record of a
        million files is written in minutes, not hours), then the recorded names the listing lacks.
        `listing(keep)` lists the store as (name, size, mtime_ns), only the names `keep` keeps (None:
        all); it is called once, and again for the buckets whose sums differ."""
        files, hashes = [0] * BUCKETS, [0] * BUCKETS
        blake2b, pack, from_bytes, crc32 = hashlib.blake2b, _STAT.pack, int.from_bytes, zlib.crc32  # inline
        for name, size, mtime_ns in listing(None):
            encoded = name.encode("utf-8", "surrogateescape")
            number = crc32(encoded) & (BUCKETS - 1)
            files[number] += 1
            hashes[number] ^= from_bytes(blake2b(encoded + pack(size, mtime_ns), digest_size=8).digest(), "little")
        for number, count, xor in self.db.execute("SELECT bucket, files, hashes FROM sums"):
            files[number] -= count
            hashes[number] ^= xor & MASK
        doubtful = {number for number in range(BUCKETS) if files[number] or hashes[number]}
        if not doubtful:
            return
        self.db.executescript(DIFFERING)
        self._write(("INSERT INTO doubtful VALUES (?)", [(number,) for number in doubtful]))
        listed = listing(lambda name: bucket(name.encode("utf-8", "surrogateescape")) in doubtful)
        # In batches, each written between two steps of the listing (which may write to the record).
        while batch := [
            (name, self.project_of(name), size, mtime) for name, size, mtime in itertools.islice(listed, 4096)
        ]:
            self._write(("INSERT INTO listed VALUES (?, ?, ?, ?)", batch))
        self.db.executescript(COMPARED)
        yield from (name for (name,) in self.db.execute("SELECT name FROM differing ORDER BY rowid"))

    def close(self) -> None:
        self.db.close()


def _signed(value: int) -> int:
    """A 64-bit value as sqlite stores integers (signed)."""
    return value - (1 << 64) if value >= 1 << 63 else value
