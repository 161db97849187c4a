"""The indexer: static PEP 503 pages for the package folder, kept in step with it.

pypiserver renders `/simple/<name>/` by normalising the requested name against every file in the
store, on every request (~100 pages/s at 10,000 files). These pages are written once per change and
served by the front server as files. This module runs INSIDE a container of the pypiserver image
(Python 3.10 there): standard library only. The program sends its source as `python3 -c`.

It polls the folder's mtime (an upload or removal renames a file into it) and rescans every 30 s in
any case (an overwrite in place does not touch the folder). A new upload shows within a second.
Known limit: only the top level of the folder is indexed (where pypiserver stores uploads).
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import sys
import time

SUFFIXES = (".whl", ".tar.gz", ".tar.bz2", ".tar.xz", ".zip", ".tgz", ".egg")
FULL_RESCAN_SECONDS = 30.0
# Uploads pause while the store's filesystem has less free space than the largest upload plus a
# margin: 5 % of the filesystem, at least 1 GiB. An accepted upload then never leaves the disk with
# less than that margin, which the journal, Docker, apt and the backup's cache keep working in.
MARGIN_SHARE, MARGIN_MIN = 0.05, 1 << 30
PAUSED_FLAG = ".uploads-paused"
DISK_REPORT = ".disk"  # the last reading, whatever it says (the deploy's health gate reports it)


def disk_report(free: int, total: int, upload_limit: int) -> tuple[bool, str]:
    """(paused, the reason): pure, so the rule is tested without filling a disk."""
    needed = upload_limit + max(int(total * MARGIN_SHARE), MARGIN_MIN)
    gib = 1 << 30
    text = f"{free / gib:.1f} GiB free of {total / gib:.1f} GiB; uploads need {needed / gib:.1f} GiB free"
    return free < needed, text


def normalize(name: str) -> str:
    """PEP 503 name normalisation."""
    return re.sub(r"[-_.]+", "-", name).lower()


def project_of(filename: str) -> str | None:
    """The normalised project a distribution file belongs to, or None for anything else."""
    if filename.startswith(".") or not filename.endswith(SUFFIXES):
        return None
    if filename.endswith((".whl", ".egg")):
        return normalize(filename.split("-", 1)[0])
    stem = next(filename[: -len(s)] for s in SUFFIXES if filename.endswith(s))
    if "-" not in stem:
        return None
    return normalize(stem.rsplit("-", 1)[0])


def render_root(projects: list[str]) -> str:
    links = "".join(f'    <a href="{p}/">{p}</a><br>\n' for p in sorted(projects))
    return f"<!DOCTYPE html>\n<html>\n  <head><title>Simple index</title></head>\n  <body>\n{links}  </body>\n</html>\n"


def render_project(project: str, files: dict[str, str]) -> str:
    """`files`: file name -> sha256 hex. Links go to /packages/<file>, served from the volume."""
    links = "".join(
        f'    <a href="../../packages/{html.escape(name)}#sha256={digest}">{html.escape(name)}</a><br>\n'
        for name, digest in sorted(files.items())
    )
    return (
        f"<!DOCTYPE html>\n<html>\n  <head><title>Links for {project}</title></head>\n"
        f"  <body>\n    <h1>Links for {project}</h1>\n{links}  </body>\n</html>\n"
    )


def _write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    staged = f"{path}.{os.getpid()}.tmp"
    with open(staged, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(staged, path)  # readers see the old page or the new one, never half of one


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
        self.cache_file = os.path.join(output, ".hashes.json")
        # file name -> [size, mtime_ns, sha256]; kept on disk so a restart does not re-hash the store
        self.hashes: dict[str, list] = {}
        if os.path.exists(self.cache_file):
            with open(self.cache_file, encoding="utf-8") as source:
                self.hashes = json.load(source)
        self.pages: dict[str, dict[str, str]] = {}

    def scan(self) -> int:
        """Bring the pages in step with the folder; return how many pages were written."""
        found: dict[str, dict[str, str]] = {}
        seen = {}
        with os.scandir(self.packages) as entries:
            for entry in entries:
                project = project_of(entry.name)
                if project is None or not entry.is_file():
                    continue
                stat = entry.stat()
                known = self.hashes.get(entry.name)
                if not known or known[0] != stat.st_size or known[1] != stat.st_mtime_ns:
                    known = [stat.st_size, stat.st_mtime_ns, _sha256(entry.path)]
                seen[entry.name] = known
                found.setdefault(project, {})[entry.name] = known[2]
        written = 0
        for project, files in found.items():
            if self.pages.get(project) != files or not os.path.exists(self._page(project)):
                _write(self._page(project), render_project(project, files))
                written += 1
        for project in set(self.pages) - set(found):
            try:
                os.remove(self._page(project))
                os.rmdir(os.path.dirname(self._page(project)))
            except OSError:
                pass
        if set(found) != set(self.pages) or not os.path.exists(os.path.join(self.simple, "index.html")):
            _write(os.path.join(self.simple, "index.html"), render_root(list(found)))
            written += 1
        if seen != self.hashes:
            self.hashes = seen
            _write(self.cache_file, json.dumps(seen))
        self.pages = found
        return written

    def check_disk(self) -> bool:
        """Pause or resume uploads (the front server answers 507 while the flag file exists)."""
        st = os.statvfs(self.packages)
        paused, text = disk_report(st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize, self.upload_limit)
        flag = os.path.join(self.output, PAUSED_FLAG)
        _write(os.path.join(self.output, DISK_REPORT), ("uploads paused: " if paused else "") + text + "\n")
        if paused:
            _write(flag, text + "\n")
        elif os.path.exists(flag):
            os.remove(flag)
        if paused != self.paused:
            print(f"indexer: uploads {'paused' if paused else 'accepted'}: {text}", flush=True)
            self.paused = paused
        return paused

    def _page(self, project: str) -> str:
        return os.path.join(self.simple, project, "index.html")

    def run(self, interval: float = 0.5) -> None:
        last_mtime, last_full = -1, 0.0
        while True:
            mtime = os.stat(self.packages).st_mtime_ns
            now = time.monotonic()
            if mtime != last_mtime or now - last_full > FULL_RESCAN_SECONDS:
                written = self.scan()
                if written:
                    print(f"indexer: {len(self.pages)} projects, {written} pages written", flush=True)
                last_mtime, last_full = mtime, now
                self.check_disk()
            time.sleep(interval)


def main(argv: list[str]) -> None:
    packages, output = argv[1], argv[2]
    Indexer(packages, output, int(argv[3]) if len(argv) > 3 else 0).run()


if __name__ == "__main__":
    main(sys.argv)
