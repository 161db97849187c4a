"""The indexer: static simple-API pages for the package folder, kept in step with it.

Every page exists as HTML and as JSON (simple_pages.py), and every wheel's core metadata is
extracted next to it (PEP 658/714: resolvers read it instead of downloading the wheel), with each
file's Requires-Python; files are named and read by index_rules.py's rules.

pypiserver renders `/simple/<name>/` by normalising the requested name against every file in the
store, on every request (~100 pages/s at 10,000 files). These pages are written once per change and
served by the front server as files. This module runs INSIDE a container of the pypiserver image
(Python 3.10 there): standard library only. The program delivers it, with its siblings, as files
(components/pypiserver/programs.py).

It watches the folder with Linux inotify (folder_watch.py): pypiserver writes an upload in place and
closes it before it answers the upload, so the close wakes the indexer and the file is listed at once
(an upload is installable as soon as twine returns). Where inotify is unavailable it polls the
folder's mtime and lists a file once it has not changed for a second. It rescans every 30 s in any case.
Known limit: only the top level of the folder is indexed (where pypiserver stores uploads).
After each scan it reads the store's disk and pauses uploads while it is nearly full (disk_watch.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import sys
import time

# Beside this file: as components.in_container.static_index in the program and its tests, or from the folder
# the program delivered them into, where the container runs them (python3 /data/hooks/<hash>/...).
if __package__:
    from . import disk_watch, folder_watch, fs, index_rules, simple_pages
else:
    import disk_watch  # type: ignore[import-not-found, no-redef]
    import folder_watch  # type: ignore[import-not-found, no-redef]
    import fs  # type: ignore[import-not-found, no-redef]
    import index_rules  # type: ignore[import-not-found, no-redef]
    import simple_pages  # type: ignore[import-not-found, no-redef]

# pypiserver writes an upload in place, not by rename, and the folder's mtime changes when the file
# appears, not as it grows: a file nobody was seen closing is listed once it has not changed for this
# long, so no page ever names a half-written file (with the hash of half of it).
SETTLE_SECONDS = 1.0
METADATA_DIR = "metadata"  # <output>/metadata/<file>.metadata: /packages/<file>.metadata for clients
YANKED_FILE = "yanked.json"  # <output>/yanked.json: {project: {version: reason}}, written by the program
FULL_RESCAN_SECONDS = 30.0


class Indexer:
    def __init__(self, packages: str, output: str, upload_limit: int = 0):
        self.packages = packages
        self.output = output
        self.disk = disk_watch.DiskWatch(packages, output, upload_limit)
        self.simple = os.path.join(output, "simple")
        self.metadata = os.path.join(output, METADATA_DIR)
        self.cache_file = os.path.join(output, ".files.json")
        # file name -> what its pages say of it; kept on disk so a restart re-reads no file
        self.files: dict[str, dict] = {}
        if os.path.exists(self.cache_file):
            with open(self.cache_file, encoding="utf-8") as source:
                self.files = json.load(source)
        # What a restart must not forget is read back from the pages volume, never assumed empty: the
        # projects that have pages (None: content unknown, so rewritten) and the metadata files. A
        # project whose last file left the store while the indexer was down loses its page at the
        # first scan, and a file's metadata goes with the file.
        self.pages: dict[str, dict[str, dict] | None] = dict.fromkeys(fs.subfolders(self.simple))
        self.metadata_files: set[str] = {
            name.removesuffix(".metadata") for name in fs.names(self.metadata) if name.endswith(".metadata")
        }
        self.unsettled = False
        """A file was still being written at the last scan: scan again soon."""
        self.closed: set[str] = set()
        """Files seen closed by their writer since they last changed (see `Watch`)."""
        self.yanked_file = os.path.join(output, YANKED_FILE)
        self.reading_file = os.path.join(output, ".reading")
        self.poisoned: str | None = None
        """A file the indexer was reading when it last died (see `_describe`)."""
        with contextlib.suppress(OSError), open(self.reading_file, encoding="utf-8") as source:
            self.poisoned = source.read().strip() or None
        self.yank_report: dict[tuple[str, str], bool] = {}
        self.scanned = bool(self.files)  # a cache from an earlier run: what changed since is news

    def yanked(self) -> dict[str, dict[str, str]]:
        """What the operator yanked: project -> canonical version -> reason (absent file: nothing)."""
        try:
            with open(self.yanked_file, encoding="utf-8") as source:
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

    def yanked_mtime(self) -> int:
        try:
            return os.stat(self.yanked_file).st_mtime_ns
        except OSError:
            return 0

    def _describe(self, entry: os.DirEntry) -> dict:
        """Hash, size and time of a file; for a wheel, its core metadata, written beside the pages."""
        stat = entry.stat()
        known = self.files.get(entry.name)
        if isinstance(known, dict) and known["size"] == stat.st_size and known["mtime_ns"] == stat.st_mtime_ns:
            return known
        info = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": fs.sha256(entry.path)}
        # Reading a wheel is the one step an upload's content decides. If the indexer died during it
        # (killed for memory, say), the file it was reading is noted, and after the restart it is
        # listed without metadata instead of killing the indexer again, forever.
        metadata = None
        if entry.name == self.poisoned:
            print(f"indexer: {entry.name!r} stopped the indexer while it was read: listed without metadata", flush=True)
            with contextlib.suppress(OSError):
                os.remove(self.reading_file)
        elif entry.name.endswith(".whl"):
            fs.write_text(self.reading_file, entry.name)
            try:
                metadata = index_rules.wheel_metadata(entry.path)
            finally:
                os.remove(self.reading_file)  # the record is for a kill during the read, not an error
        if metadata is not None:
            fs.write_bytes(os.path.join(self.metadata, entry.name + ".metadata"), metadata)
            info["metadata_sha256"] = hashlib.sha256(metadata).hexdigest()
        info["requires_python"] = index_rules.requires_python(metadata)
        return info

    def scan(self) -> int:
        """Bring the pages in step with the folder; return how many pages were written.

        A file's metadata is written before any page names it, and a page before the root lists it.
        """
        found: dict[str, dict[str, dict]] = {}
        seen: dict[str, dict] = {}
        self.unsettled = False
        young: set[str] = set()
        now = time.time()
        yanked = self.yanked()
        with os.scandir(self.packages) as entries:
            for entry in entries:
                stop_point()
                project = index_rules.project_of(entry.name)
                if project is None or not entry.is_file():
                    continue
                try:
                    if now - entry.stat().st_mtime < SETTLE_SECONDS:
                        young.add(entry.name)
                        if entry.name not in self.closed:
                            self.unsettled = True
                            continue
                    seen[entry.name] = self._describe(entry)
                except FileNotFoundError:
                    # Removed between the listing and now (pypiserver's API, a hand): not listed, and
                    # the next scan, soon, sees the folder as it is.
                    self.unsettled = True
                    continue
                reason = yanked.get(project, {}).get(
                    index_rules.canonical_version(index_rules.version_of(entry.name) or "")
                )
                found.setdefault(project, {})[entry.name] = {**seen[entry.name], "yanked": reason}
        written = 0
        for project, files in found.items():
            if self.pages.get(project) != files or not os.path.exists(self._page(project)):
                fs.write_text(self._page(project, "json"), simple_pages.render_project_json(project, files))
                fs.write_text(self._page(project), simple_pages.render_project(project, files))
                written += 1
        for project in set(self.pages) - set(found):
            for kind in ("json", "html"):
                with contextlib.suppress(OSError):
                    os.remove(self._page(project, kind))
            with contextlib.suppress(OSError):
                os.rmdir(os.path.dirname(self._page(project)))
        for name in self.metadata_files - set(seen):
            with contextlib.suppress(OSError):
                os.remove(os.path.join(self.metadata, name + ".metadata"))
        self.metadata_files = {name for name, info in seen.items() if "metadata_sha256" in info}
        if set(found) != set(self.pages) or not os.path.exists(os.path.join(self.simple, "index.html")):
            fs.write_text(os.path.join(self.simple, "index.json"), simple_pages.render_root_json(list(found)))
            fs.write_text(os.path.join(self.simple, "index.html"), simple_pages.render_root(list(found)))
            written += 1
        self.closed &= young  # a settled file needs no record of its close
        self._report_changes(seen)
        self._report_yanks(yanked, found)
        if seen != self.files:
            self.files = seen
            fs.write_text(self.cache_file, json.dumps(seen))
        self.pages = dict(found)
        return written

    def _report_changes(self, seen: dict[str, dict]) -> None:
        """The store's side of the audit: each file that appeared in or left the store, with its hash,
        whoever put it there (pypiserver's own audit line names the user of an upload or removal).
        The first scan of a fresh pages volume lists nothing: it is the store as it already was."""
        if self.scanned:
            for name in sorted(set(seen) - set(self.files)):
                print(f"audit: file added {name!r} sha256={seen[name]['sha256']} size={seen[name]['size']}", flush=True)
            for name in sorted(set(seen) & set(self.files)):
                if seen[name]["sha256"] != self.files[name]["sha256"]:
                    print(
                        f"audit: file replaced {name!r} sha256={seen[name]['sha256']} size={seen[name]['size']}",
                        flush=True,
                    )
            for name in sorted(set(self.files) - set(seen)):
                if name not in self.closed and not os.path.exists(os.path.join(self.packages, name)):
                    print(f"audit: file removed {name!r} sha256={self.files[name]['sha256']}", flush=True)
        self.scanned = True

    def _report_yanks(self, yanked: dict[str, dict[str, str]], found: dict[str, dict[str, dict]]) -> None:
        """Say in the journal what is yanked, and which yank names no file (a typo, or not yet uploaded)."""
        marked = {
            (project, version): any(
                info.get("yanked") is not None
                and index_rules.canonical_version(index_rules.version_of(name) or "") == version
                for name, info in found.get(project, {}).items()
            )
            for project, versions in yanked.items()
            for version in versions
        }
        if marked != self.yank_report:
            for (project, version), matched in sorted(marked.items()):
                print(f"indexer: yanked {project} {version}" + ("" if matched else ": no such file here"), flush=True)
            self.yank_report = marked

    def _page(self, project: str, kind: str = "html") -> str:
        return os.path.join(self.simple, project, f"index.{kind}")

    def run(self, interval: float = 0.5) -> None:
        last_mtime: tuple[int, int] | None = None
        last_full = 0.0
        watch = folder_watch.Watch.open(self.packages)
        while True:
            stop_point()
            events = watch.read(interval) if watch else []
            self.closed = folder_watch.closed_files(self.closed, events)
            # Writes arrive as a stream of MODIFY events while an upload is received: they only
            # matter to `closed`; a close, rename or removal is what changes the pages.
            changed = any(mask & ~(folder_watch.Watch.MODIFY | folder_watch.Watch.CREATE) for mask, _ in events)
            if events and not changed:
                time.sleep(0.05)
            # The folder's mtime, and the yank list's: either changes the pages.
            mtime = (os.stat(self.packages).st_mtime_ns, self.yanked_mtime())
            now = time.monotonic()
            if changed or mtime != last_mtime or self.unsettled or now - last_full > FULL_RESCAN_SECONDS:
                written = self.scan()
                if written:
                    print(f"indexer: {len(self.pages)} projects, {written} pages written", flush=True)
                last_mtime, last_full = mtime, now
                self.disk.check()
            if watch is None:
                time.sleep(interval)


class Stop(Exception):
    """Docker asked the indexer to stop (SIGTERM), and it reached a point where stopping loses nothing."""


STOP = {"asked": False}


def stop_point() -> None:
    """Where the indexer may stop: between files and between scans, never while it writes a page or
    reads a wheel (a stop there would leave a half-written page or mark the wheel as one that kills it)."""
    if STOP["asked"]:
        raise Stop


def main(argv: list[str]) -> None:
    packages, output = argv[1], argv[2]
    # The indexer is its container's PID 1, which the kernel gives no default signal action: without
    # a handler, `docker stop` (every replacement, every restart) waits out the grace period and kills it.
    signal.signal(signal.SIGTERM, lambda *_: STOP.update(asked=True))
    try:
        Indexer(packages, output, int(argv[3]) if len(argv) > 3 else 0).run()
    except Stop:
        print("indexer: stopped", flush=True)


if __name__ == "__main__":
    main(sys.argv)
