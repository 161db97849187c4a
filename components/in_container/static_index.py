"""The indexer: static simple-API pages for the package folder, kept in step with it.

Every page exists as HTML (PEP 503, with PEP 629's repository version) and as JSON (PEP 691, with
PEP 700's versions, sizes and upload times), and every wheel's core metadata is extracted next to it
(PEP 658/714: resolvers read it instead of downloading the wheel), with each file's Requires-Python.

pypiserver renders `/simple/<name>/` by normalising the requested name against every file in the
store, on every request (~100 pages/s at 10,000 files). These pages are written once per change and
served by the front server as files. This module runs INSIDE a container of the pypiserver image
(Python 3.10 there): standard library only. The program delivers it as a file
(components/pypiserver/programs.py).

It watches the folder with Linux inotify: pypiserver writes an upload in place and closes it before
it answers the upload, so the close wakes the indexer and the file is listed at once (an upload is
installable as soon as twine returns). Where inotify is unavailable it polls the folder's mtime
and lists a file once it has not changed for a second. It rescans every 30 s in any case.
Known limit: only the top level of the folder is indexed (where pypiserver stores uploads).
"""

from __future__ import annotations

import contextlib
import ctypes
import email.parser
import hashlib
import html
import json
import os
import re
import select
import signal
import socket
import struct
import sys
import time
import zipfile
import zlib

SUFFIXES = (".whl", ".tar.gz", ".tar.bz2", ".tar.xz", ".zip", ".tgz", ".egg")
API_VERSION = "1.1"  # PEP 700's additions to PEP 691
# pypiserver writes an upload in place, not by rename, and the folder's mtime changes when the file
# appears, not as it grows: a file nobody was seen closing is listed once it has not changed for this
# long, so no page ever names a half-written file (with the hash of half of it).
SETTLE_SECONDS = 1.0
METADATA_MAX = 4 << 20  # bytes of core metadata served for one wheel; larger: served without
METADATA_DIR = "metadata"  # <output>/metadata/<file>.metadata: /packages/<file>.metadata for clients
YANKED_FILE = "yanked.json"  # <output>/yanked.json: {project: {version: reason}}, written by the program
FULL_RESCAN_SECONDS = 30.0
# Uploads pause while the store's filesystem has less free space than the largest upload plus a
# margin: 5 % of the filesystem, at least 1 GiB. An accepted upload then never leaves the disk with
# less than that margin, which the journal, Docker, apt and the backup's cache keep working in.
MARGIN_SHARE, MARGIN_MIN = 0.05, 1 << 30
PAUSED_FLAG = ".uploads-paused"
DISK_REPORT = ".disk"  # the last reading, whatever it says (the deploy's health gate reports it)
# Who wrote that reading: the indexer's host name, which Docker sets to its container's (Config.Hostname).
# The pages volume outlives every indexer, so a reading alone would not show that this one runs; the
# health gate waits until the mark names the container it just deployed.
WRITER_MARK = ".indexer"


class Watch:
    """inotify on one folder, through ctypes (the indexer has the standard library only).

    It says which files a writer has closed since it last changed them: those are complete, and
    are listed without waiting for them to settle. Linux only; `open` returns None elsewhere.
    """

    # <sys/inotify.h>
    MODIFY, CLOSE_WRITE, MOVED_FROM, MOVED_TO, CREATE, DELETE = 0x2, 0x8, 0x40, 0x80, 0x100, 0x200
    OVERFLOW = 0x4000
    EVENT = struct.Struct("iIII")  # wd, mask, cookie, len; then len bytes of NUL-padded name

    def __init__(self, fd: int):
        self.fd = fd

    @classmethod
    def open(cls, folder: str) -> Watch | None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)  # glibc and musl (the Alpine image) alike
            fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
            mask = cls.MODIFY | cls.CLOSE_WRITE | cls.MOVED_FROM | cls.MOVED_TO | cls.CREATE | cls.DELETE
            if fd < 0 or libc.inotify_add_watch(fd, folder.encode(), mask) < 0:
                raise OSError(ctypes.get_errno(), "inotify")
        except (OSError, AttributeError) as error:
            print(f"indexer: no inotify ({error}): files are listed once settled", flush=True)
            return None
        return cls(fd)

    def read(self, timeout: float) -> list[tuple[int, str]]:
        """The events that arrive within `timeout` seconds (none: an empty list)."""
        if not select.select([self.fd], [], [], timeout)[0]:
            return []
        data, events = b"", []
        with contextlib.suppress(BlockingIOError):
            while True:
                data += os.read(self.fd, 65536)
        offset = 0
        while offset + self.EVENT.size <= len(data):
            _, mask, _, length = self.EVENT.unpack_from(data, offset)
            start = offset + self.EVENT.size
            events.append((mask, data[start : start + length].rstrip(b"\0").decode("utf-8", "surrogateescape")))
            offset = start + length
        return events


def closed_files(closed: set[str], events: list[tuple[int, str]]) -> set[str]:
    """The files known complete after `events`: closed by their writer or renamed in, and not
    written to since. Pure, so the rule is tested without a kernel."""
    closed = set(closed)
    for mask, name in events:
        if mask & Watch.OVERFLOW:
            closed.clear()  # events were lost: fall back to settling for everything in flight
        elif mask & (Watch.CLOSE_WRITE | Watch.MOVED_TO):
            closed.add(name)
        elif mask & (Watch.MODIFY | Watch.CREATE | Watch.DELETE | Watch.MOVED_FROM):
            closed.discard(name)
    return closed


def margin(total: int) -> int:
    """The free space an accepted upload must leave on a filesystem of `total` bytes."""
    return max(int(total * MARGIN_SHARE), MARGIN_MIN)


def disk_report(free: int, total: int, upload_limit: int) -> tuple[bool, str]:
    """(paused, the reason): pure, so the rule is tested without filling a disk."""
    needed = upload_limit + margin(total)
    gib = 1 << 30
    text = f"{free / gib:.1f} GiB free of {total / gib:.1f} GiB; uploads need {needed / gib:.1f} GiB free"
    return free < needed, text


def normalize(name: str) -> str:
    """PEP 503 name normalisation."""
    return re.sub(r"[-_.]+", "-", name).lower()


# A project name as the core metadata specification allows it (PEP 508's `identifier`): letters,
# digits and `._-`, starting and ending with a letter or digit. Nothing else can name a project, and
# nothing else ever reaches a page: a file copied into the store by hand or restored from a backup
# skips pypiserver's own checks, and a name like `<img src=x onerror=...>` must not become markup.
VALID_NAME = re.compile(r"[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9]")


def project_of(filename: str) -> str | None:
    """The normalised project a distribution file belongs to, or None for anything else (including a
    name no project can have: the pages never list it, the upload guard refuses it)."""
    if filename.startswith(".") or not filename.endswith(SUFFIXES):
        return None
    if filename.endswith((".whl", ".egg")):
        name = filename.split("-", 1)[0]
    else:
        stem = next(filename[: -len(s)] for s in SUFFIXES if filename.endswith(s))
        if "-" not in stem:
            return None
        name = stem.rsplit("-", 1)[0]
    return normalize(name) if VALID_NAME.fullmatch(name) else None


def version_of(filename: str) -> str | None:
    """The version a distribution file carries in its name (wheel: the second field)."""
    if filename.endswith((".whl", ".egg")):
        parts = filename.split("-")
        return parts[1] if len(parts) > 2 else None
    stem = next((filename[: -len(s)] for s in SUFFIXES if filename.endswith(s)), None)
    return stem.rsplit("-", 1)[1] if stem and "-" in stem else None


def wheel_metadata(path: str) -> bytes | None:
    """A wheel's `*.dist-info/METADATA` (what PEP 658 serves), or None if it has none, or one too
    large to be real (a few kB is usual): a crafted member that inflates to gigabytes must not take
    the indexer's memory, and with it every project's pages."""
    try:
        with zipfile.ZipFile(path) as wheel:
            members = [i for i in wheel.infolist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", i.filename)]
            if len(members) != 1 or members[0].file_size > METADATA_MAX:
                return None
            with wheel.open(members[0]) as member:
                data = member.read(METADATA_MAX + 1)  # the declared size is the uploader's word
            return data if len(data) <= METADATA_MAX else None
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, EOFError, zlib.error):
        return None


def requires_python(metadata: bytes | None) -> str | None:
    if not metadata:
        return None
    value = email.parser.BytesParser().parsebytes(metadata, headersonly=True).get("Requires-Python")
    return str(value).strip() or None if value is not None else None


def canonical_version(version: str) -> str:
    """A version as PEP 440 compares it, near enough to match a yank to its files: case, a leading
    `v` and trailing `.0` release segments do not count (`1.2` yanks `1.2.0` and `V1.2.0`)."""
    match = re.match(r"^v?(\d+(?:\.\d+)*)(.*)$", version.strip().lower())
    if not match:
        return version.strip().lower()
    release = [str(int(part)) for part in match.group(1).split(".")]
    while len(release) > 1 and release[-1] == "0":
        release.pop()
    return ".".join(release) + match.group(2)


def upload_time(mtime_ns: int) -> str:
    """PEP 700's ISO 8601 form, UTC, with microseconds."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(mtime_ns // 1_000_000_000)) + (
        f".{(mtime_ns // 1000) % 1_000_000:06d}Z"
    )


def render_root(projects: list[str]) -> str:
    # Names are valid project names (VALID_NAME) and need no escaping; escaped all the same, so a
    # page can never carry markup whatever a later change lets through.
    links = "".join(f'    <a href="{html.escape(p)}/">{html.escape(p)}</a><br>\n' for p in sorted(projects))
    return (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        f'    <meta name="pypi:repository-version" content="{API_VERSION}">\n'
        "    <title>Simple index</title>\n  </head>\n"
        f"  <body>\n{links}  </body>\n</html>\n"
    )


def render_root_json(projects: list[str]) -> str:
    return json.dumps({"meta": {"api-version": API_VERSION}, "projects": [{"name": p} for p in sorted(projects)]})


def _attributes(info: dict) -> str:
    extra = ""
    if info.get("yanked") is not None:
        extra += f' data-yanked="{html.escape(info["yanked"], quote=True)}"'  # PEP 592
    if info.get("requires_python"):
        extra += f' data-requires-python="{html.escape(info["requires_python"], quote=True)}"'
    if info.get("metadata_sha256"):
        # PEP 714's name, and PEP 658's for the clients that only know that one.
        value = f"sha256={info['metadata_sha256']}"
        extra += f' data-dist-info-metadata="{value}" data-core-metadata="{value}"'
    return extra


def render_project(project: str, files: dict[str, dict]) -> str:
    """`files`: file name -> {sha256, size, mtime_ns, requires_python, metadata_sha256}. Links go to
    /packages/<file>, served from the volume."""
    links = "".join(
        f'    <a href="../../packages/{html.escape(name)}#sha256={info["sha256"]}"{_attributes(info)}>'
        f"{html.escape(name)}</a><br>\n"
        for name, info in sorted(files.items())
    )
    return (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        f'    <meta name="pypi:repository-version" content="{API_VERSION}">\n'
        f"    <title>Links for {html.escape(project)}</title>\n  </head>\n"
        f"  <body>\n    <h1>Links for {html.escape(project)}</h1>\n{links}  </body>\n</html>\n"
    )


def render_project_json(project: str, files: dict[str, dict]) -> str:
    """PEP 691's project page with PEP 700's `versions`, `size` and `upload-time`."""
    entries = []
    for name, info in sorted(files.items()):
        metadata = {"sha256": info["metadata_sha256"]} if info.get("metadata_sha256") else False
        entries.append(
            {
                "filename": name,
                "url": f"../../packages/{name}",
                "hashes": {"sha256": info["sha256"]},
                "requires-python": info.get("requires_python"),
                "core-metadata": metadata,
                "dist-info-metadata": metadata,
                "size": info["size"],
                "upload-time": upload_time(info["mtime_ns"]),
                # PEP 592 in JSON: the reason, or true when none was given.
                "yanked": (info["yanked"] or True) if info.get("yanked") is not None else False,
            }
        )
    versions = sorted({v for v in (version_of(name) for name in files) if v})
    return json.dumps({"meta": {"api-version": API_VERSION}, "name": project, "versions": versions, "files": entries})


def _write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    staged = f"{path}.{os.getpid()}.tmp"
    with open(staged, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(staged, path)  # readers see the old page or the new one, never half of one


def _write_bytes(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    staged = f"{path}.{os.getpid()}.tmp"
    with open(staged, "wb") as out:
        out.write(data)
    os.replace(staged, path)


def _names(folder: str) -> list[str]:
    try:
        return os.listdir(folder)
    except FileNotFoundError:
        return []


def _subfolders(folder: str) -> list[str]:
    return [name for name in _names(folder) if os.path.isdir(os.path.join(folder, name))]


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        for chunk in iter(lambda: source.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Indexer:
    def __init__(self, packages: str, output: str, upload_limit: int = 0):
        self.packages = packages
        self.output = output
        self.upload_limit = upload_limit
        self.paused: bool | None = None
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
        self.pages: dict[str, dict[str, dict] | None] = dict.fromkeys(_subfolders(self.simple))
        self.metadata_files: set[str] = {
            name.removesuffix(".metadata") for name in _names(self.metadata) if name.endswith(".metadata")
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
            normalize(project): {canonical_version(v): str(r) for v, r in versions.items()}
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
        info = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": _sha256(entry.path)}
        # Reading a wheel is the one step an upload's content decides. If the indexer died during it
        # (killed for memory, say), the file it was reading is noted, and after the restart it is
        # listed without metadata instead of killing the indexer again, forever.
        metadata = None
        if entry.name == self.poisoned:
            print(f"indexer: {entry.name!r} stopped the indexer while it was read: listed without metadata", flush=True)
            with contextlib.suppress(OSError):
                os.remove(self.reading_file)
        elif entry.name.endswith(".whl"):
            _write(self.reading_file, entry.name)
            try:
                metadata = wheel_metadata(entry.path)
            finally:
                os.remove(self.reading_file)  # the record is for a kill during the read, not an error
        if metadata is not None:
            _write_bytes(os.path.join(self.metadata, entry.name + ".metadata"), metadata)
            info["metadata_sha256"] = hashlib.sha256(metadata).hexdigest()
        info["requires_python"] = requires_python(metadata)
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
                project = project_of(entry.name)
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
                reason = yanked.get(project, {}).get(canonical_version(version_of(entry.name) or ""))
                found.setdefault(project, {})[entry.name] = {**seen[entry.name], "yanked": reason}
        written = 0
        for project, files in found.items():
            if self.pages.get(project) != files or not os.path.exists(self._page(project)):
                _write(self._page(project, "json"), render_project_json(project, files))
                _write(self._page(project), render_project(project, files))
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
            _write(os.path.join(self.simple, "index.json"), render_root_json(list(found)))
            _write(os.path.join(self.simple, "index.html"), render_root(list(found)))
            written += 1
        self.closed &= young  # a settled file needs no record of its close
        self._report_changes(seen)
        self._report_yanks(yanked, found)
        if seen != self.files:
            self.files = seen
            _write(self.cache_file, json.dumps(seen))
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
                info.get("yanked") is not None and canonical_version(version_of(name) or "") == version
                for name, info in found.get(project, {}).items()
            )
            for project, versions in yanked.items()
            for version in versions
        }
        if marked != self.yank_report:
            for (project, version), matched in sorted(marked.items()):
                print(f"indexer: yanked {project} {version}" + ("" if matched else ": no such file here"), flush=True)
            self.yank_report = marked

    def check_disk(self) -> bool:
        """Pause or resume uploads (the front server answers 507 while the flag file exists)."""
        st = os.statvfs(self.packages)
        paused, text = disk_report(st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize, self.upload_limit)
        flag = os.path.join(self.output, PAUSED_FLAG)
        _write(os.path.join(self.output, DISK_REPORT), ("uploads paused: " if paused else "") + text + "\n")
        _write(os.path.join(self.output, WRITER_MARK), socket.gethostname() + "\n")
        if paused:
            _write(flag, text + "\n")
        elif os.path.exists(flag):
            os.remove(flag)
        if paused != self.paused:
            print(f"indexer: uploads {'paused' if paused else 'accepted'}: {text}", flush=True)
            self.paused = paused
        return paused

    def _page(self, project: str, kind: str = "html") -> str:
        return os.path.join(self.simple, project, f"index.{kind}")

    def run(self, interval: float = 0.5) -> None:
        last_mtime: tuple[int, int] | None = None
        last_full = 0.0
        watch = Watch.open(self.packages)
        while True:
            stop_point()
            events = watch.read(interval) if watch else []
            self.closed = closed_files(self.closed, events)
            # Writes arrive as a stream of MODIFY events while an upload is received: they only
            # matter to `closed`; a close, rename or removal is what changes the pages.
            changed = any(mask & ~(Watch.MODIFY | Watch.CREATE) for mask, _ in events)
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
                self.check_disk()
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
