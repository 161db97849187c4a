"""The indexer: static simple-API pages for the package folder, kept in step with it.

Every page exists as HTML and as JSON (simple_pages.py), and every wheel's core metadata is
extracted next to it (PEP 658/714: resolvers read it instead of downloading the wheel), with each
file's Requires-Python; files are named and read by index_rules.py's rules.

pypiserver renders `/simple/<name>/` by normalising the requested name against every file in the
store, on every request (~100 pages/s at 10,000 files). These pages are written once per change and
served by the front server as files. This module runs INSIDE a container of the pypiserver image
(Python 3.10 there): standard library only. The program delivers it, with its siblings, as files
(components/pypiserver/programs.py).

Its work is proportional to the change, not to the store. What the pages say of each file is kept in
a record (file_records.py) that survives restarts. It watches the folder with Linux inotify
(folder_watch.py): pypiserver writes an upload in place and closes it before it answers the upload,
so the close wakes the indexer, which reads that one file, writes that project's two pages, and the
root pages only when a project appears or goes (an upload is installable as soon as twine returns).
The whole folder is compared with the record (a stat per file, a read only of what changed) at start,
when the watch loses events, and hourly in case a change escaped it; where inotify is unavailable,
whenever the folder's mtime changes, a file being listed once it has not changed for a second.
Known limit: only the top level of the folder is indexed (where pypiserver stores uploads).
Now and then, and after each change, it reads the store's disk and pauses uploads while it is nearly
full (disk_watch.py).
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import stat
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping

# Beside this file: as components.in_container.static_index in the program and its tests, or from the folder
# the program delivered them into, where the container runs them (python3 /data/hooks/<hash>/...).
if __package__:
    from . import (
        disk_watch,
        file_reading,
        file_records,
        index_rules,
        page_tree,
        project_access,
        stopping,
        watching,
        yank_list,
    )
else:
    import disk_watch  # type: ignore[import-not-found, no-redef]
    import file_reading  # type: ignore[import-not-found, no-redef]
    import file_records  # type: ignore[import-not-found, no-redef]
    import index_rules  # type: ignore[import-not-found, no-redef]
    import page_tree  # type: ignore[import-not-found, no-redef]
    import project_access  # type: ignore[import-not-found, no-redef]
    import stopping  # type: ignore[import-not-found, no-redef]
    import watching  # type: ignore[import-not-found, no-redef]
    import yank_list  # type: ignore[import-not-found, no-redef]

# pypiserver writes an upload in place, not by rename, and the folder's mtime changes when the file
# appears, not as it grows: a file nobody was seen closing is listed once it has not changed for this
# long, so no page ever names a half-written file (with the hash of half of it).
SETTLE_SECONDS = 1.0
METADATA_DIR = page_tree.METADATA_DIR
YANKED_FILE = yank_list.YANKED_FILE
RECORD_FILE = ".files.sqlite"  # file_records.py; sqlite keeps its -wal and -shm files beside it
EARLIER_RECORD_FILE = ".files.json"  # the record of indexers before this one: taken over once
CHUNK = 4096  # files looked at per transaction


class Indexer:
    def __init__(
        self, packages: str, output: str, upload_limit: int = 0, statuses: dict[str, tuple[str, str]] | None = None
    ):
        self.packages = packages
        self.disk = disk_watch.DiskWatch(packages, output, upload_limit)
        self.tree = page_tree.PageTree(output)
        os.makedirs(output, exist_ok=True)
        self.records = file_records.FileRecords(os.path.join(output, RECORD_FILE), index_rules.project_of)
        earlier = os.path.join(output, EARLIER_RECORD_FILE)
        self.news = not self.records.fresh or self.records.take_over(earlier)
        """Whether what changes is news for the audit: a new pages volume's first look is the store as it was."""
        self.reader = file_reading.FileReader(output)
        self.yanks = yank_list.YankList(output, json.loads(self.records.fact("yanked") or "{}"))
        self.projects: set[str] = self.records.projects()
        """The projects the root pages list."""
        self.pending: set[str] = set()
        """Files seen being written: looked at again until they are complete."""
        self.closed: set[str] = set()
        """Files seen closed by their writer since they last changed (see `folder_watch.Watch`)."""
        self.doomed: set[str] = set()
        """Files whose metadata file goes once no page names it."""
        self.statuses = statuses or {}
        """PEP 503 name -> PEP 792 (status, reason), from access.json beside this program."""
        self.pages_key = page_tree.makers_key(json.dumps(self.statuses, sort_keys=True) if self.statuses else "")
        self.started = False
        self.root_due = False
        self.between: Callable[[], None] | None = None
        """Called now and then during a long comparison (by `run`: follow the watch meanwhile)."""

    @property
    def files(self) -> Mapping[str, dict]:
        """File name -> what its pages say of it."""
        return self.records

    @property
    def unsettled(self) -> bool:
        """A file was still being written when last looked at: look again soon."""
        return bool(self.pending)

    def scan(self) -> int:
        """Compare the whole folder with the record and bring the pages in step; return how many pages
        were written (a project's two count one, as do the root's two). Reads only the files whose
        size or time differ from the record; writes only the pages of projects that changed."""
        touched = set() if self.started else self._start()
        # Until the pages key is set, every start rewrites every page and sweeps the metadata: a
        # rebuild (a new or lost record, new renderers) needs no journal, which would double its writes.
        rebuilding = self.records.fact("pages") != self.pages_key
        touched |= self.refresh(self.records.differing(self._listing), journal=not rebuilding)
        touched |= self.yank_changes(always=True)
        written = self.publish(touched)
        if rebuilding:
            self._sweep()
            self.records.set_fact("pages", self.pages_key)
        self.news = True
        return written

    def _listing(self, keep: Callable[[str], bool] | None = None) -> Iterator[tuple[str, int, int]]:
        """(name, size, mtime_ns) of each complete file in the folder (that `keep` keeps); those still
        being written go to `pending`. No file is read and no name parsed: a stat each (the cost of a
        comparison, about 4 s a million files here, so the loop does little else)."""
        now, suffixes = time.time(), index_rules.SUFFIXES
        with os.scandir(self.packages) as entries:
            for count, entry in enumerate(entries):
                if count & 4095 == 4095:
                    stopping.stop_point()
                    if self.between is not None:
                        self.between()
                name = entry.name
                if name[0] == "." or not name.endswith(suffixes) or (keep is not None and not keep(name)):
                    continue
                try:
                    info = entry.stat()
                except FileNotFoundError:
                    continue  # removed since the listing: its record goes unseen and is looked at again
                if not stat.S_ISREG(info.st_mode):
                    continue
                if now - info.st_mtime < SETTLE_SECONDS:
                    if name not in self.closed:
                        self.pending.add(name)
                        continue
                elif self.closed:
                    self.closed.discard(name)  # a settled file needs no record of its close
                yield name, info.st_size, info.st_mtime_ns

    def refresh(self, names: Iterable[str], follow: bool = True, journal: bool = True) -> set[str]:
        """Bring the record of each named file in step with the file as it is now; return the projects
        whose pages changed. Each file is looked at afresh, so a stale reason to look costs a stat."""
        touched: set[str] = set()
        names = iter(names)
        while chunk := list(dict.fromkeys(itertools.islice(names, CHUNK))):
            # In the record's order: rows next to each other are written together.
            looks = sorted(look for name in chunk if (look := self._look(name)) is not None)
            if looks and journal:
                self.records.expect((project, name) for project, name, *_ in looks)
            if looks:
                notes: list[str] = []
                self.records.change([self._change(*look, notes) for look in looks])
                touched.update(project for project, *_ in looks)
                for note in notes if self.news else ():
                    print(note, flush=True)
            if follow and self.between is not None:
                self.between()
        return touched

    def _look(self, name: str) -> tuple[str, str, str, os.stat_result | None, dict | None] | None:
        """(project, name, what to do, the file's stat, its record) if its record must change."""
        project = index_rules.project_of(name)
        if project is None:
            return None
        known = self.records.get(name)
        try:
            now, info = time.time(), os.stat(os.path.join(self.packages, name))
        except FileNotFoundError:
            self.pending.discard(name)
            return (project, name, "removed", None, known) if known is not None else None
        if not stat.S_ISREG(info.st_mode) or (now - info.st_mtime < SETTLE_SECONDS and name not in self.closed):
            if stat.S_ISREG(info.st_mode):
                self.pending.add(name)
            # Written again (or no longer a file): not listed until it is complete, but not gone.
            return (project, name, "withdrawn", None, known) if known is not None else None
        self.pending.discard(name)
        if known is not None and (known["size"], known["mtime_ns"]) == (info.st_size, info.st_mtime_ns):
            return None
        return project, name, "read", info, known

    def _change(
        self, project: str, name: str, action: str, info: os.stat_result | None, known: dict | None, notes: list[str]
    ) -> file_records.Change:
        """The record's change for a look; a file is read, its metadata written, here."""
        # A stop here loses nothing: the name is in the journal (or, in a rebuild, all is done again).
        stopping.stop_point()
        if known is not None and known.get("metadata_sha256"):
            self.doomed.add(name)  # unless it is written again below
        if info is None:
            if action == "removed" and known is not None:
                notes.append(f"audit: file removed {name!r} sha256={known['sha256']}")
            return project, name, None
        described, data = self.reader.describe(name, os.path.join(self.packages, name), info)
        if data is not None:
            self.tree.write_metadata(name, data)
        if known is None or known["sha256"] != described["sha256"]:
            notes.append(
                f"audit: file {'added' if known is None else 'replaced'} {name!r} "
                f"sha256={described['sha256']} size={described['size']}"
            )
        return project, name, described

    def publish(self, touched: set[str]) -> int:
        """Write the pages of `touched` projects from the record (or remove them), then the root pages
        if the set of projects changed. A file's metadata is written before any page names it, and a
        page before the root lists it; metadata no page names any more goes last."""
        written = 0
        for count, project in enumerate(sorted(touched)):
            stopping.stop_point()  # what is left unwritten is in the journal, or found again at the start
            if count % 1024 == 1023 and self.between is not None:
                self.between()  # every page written again (new renderers): uploads are listed meanwhile
            files = self.records.of_project(project)
            if files:
                for name, info in files.items():
                    info["yanked"] = self.yanks.reason(project, name)
                self.tree.write_project(project, files, self.statuses.get(project))
                written += 1
                self.root_due |= project not in self.projects
                self.projects.add(project)
            else:
                self.tree.remove_project(project)
                self.root_due |= project in self.projects
                self.projects.discard(project)
        if self.root_due:
            self.tree.write_root(list(self.projects))
            written += 1
            self.root_due = False
        for name in self.doomed:
            if not (self.records.get(name) or {}).get("metadata_sha256"):
                self.tree.remove_metadata(name)
        self.doomed.clear()
        if touched:
            self.records.finished(touched)
        if touched & (self.yanks.shown.keys() | {project for project, _ in self.yanks.report}):
            self.yanks.say(self.records.of_project)
        return written

    def _start(self) -> set[str]:
        """What a start must bring in step besides the store's changes: pages a crash left unfinished,
        pages missing from or left over on the volume, and every page if the renderers changed."""
        self.started = True
        journal = self.records.unfinished()
        files = [(project, name) for project, name in journal if name != file_records.WHOLE_PROJECT]
        self.records.doubt(files)  # read again: their metadata may not have been written
        self.doomed.update(name for _, name in files)
        touched = {project for project, _ in journal}
        rebuilding = self.records.fact("pages") != self.pages_key
        if rebuilding:
            self.records.reproject()
            self.projects = self.records.projects()
            touched |= self.projects
        # Each project with a record has a folder of pages and each folder a project: a project's
        # last file removed while stopped loses its page, one a lost page volume had gains one.
        touched |= set(self.tree.project_folders()) ^ self.projects
        self.root_due = bool(journal) or rebuilding or not self.tree.has_root()
        return touched

    def _sweep(self) -> None:
        """Metadata files no record names (a page volume whose record was lost or of another format)."""
        for name in self.tree.metadata_of():
            if not (self.records.get(name) or {}).get("metadata_sha256"):
                self.tree.remove_metadata(name)

    def yank_changes(self, always: bool = False) -> set[str]:
        """The projects whose yanks changed since their pages were written; the change is recorded with
        them in the journal, so a crash before they are written does not lose it."""
        yanked, touched = self.yanks.changes(always)
        if touched:
            self.records.set_fact("yanked", json.dumps(yanked, sort_keys=True), journal=touched)
            self.yanks.shown = yanked
        return touched

    def run(self, interval: float = 0.5) -> None:
        watching.run(self, interval)


def _statuses() -> dict[str, tuple[str, str]]:
    """The projects' statuses from access.json, which the program delivers beside this file; run from
    the source tree (the tests), there is none and every project is active."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), project_access.ACCESS_FILE)
    return project_access.load(path).statuses if os.path.exists(path) else {}


def main(argv: list[str]) -> None:
    packages, output = argv[1], argv[2]
    # The indexer is its container's PID 1, which the kernel gives no default signal action: without
    # a handler, `docker stop` (every replacement, every restart) waits out the grace period and kills it.
    signal.signal(signal.SIGTERM, lambda *_: stopping.ask())
    try:
        Indexer(packages, output, int(argv[3]) if len(argv) > 3 else 0, _statuses()).run()
    except stopping.Stop:
        print("indexer: stopped", flush=True)


if __name__ == "__main__":
    main(sys.argv)
