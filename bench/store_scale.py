"""The indexer at scale (issue 26): is an upload listed as fast at a million files as at a thousand?

    venv/bin/python -m bench.store_scale                          # 10^3, 10^4, 10^5 and 10^6 files
    venv/bin/python -m bench.store_scale --sizes 1000 10000       # some sizes only
    venv/bin/python -m bench.store_scale --baseline-uploads 10    # fewer uploads for the slow baseline

For each size, a store of sdists, ten per project, as the issue measured (generated once into
`.cache/bench/scale-<n>-<layout>/packages/`), is indexed by two indexers one after the other, each
run as its container runs it (`python3 static_index.py PACKAGES PAGES 0`, a process of its own, on a
fresh pages folder):

- the baseline: the full-scan indexer of commit BASELINE, its modules read from git history at run
  time (`git show BASELINE:components/in_container/<module>`): exactly what shipped, with nothing
  frozen in this repository to keep in step or to be mistaken for live code;
- this indexer, from the working tree.

For each it measures, in this order:
1. `first`: the first index of the store, to its first "pages written" line (not a target: a pages
   volume is new once);
2. `listed`: `--uploads` wheels written into the store one at a time as pypiserver writes an upload
   (in place, then closed), each for an existing project: the time from the close to the moment that
   project's JSON page names the file (median and p99); then `--new-projects` wheels of new projects:
   the time to their page and to the root page naming them;
3. `idle cpu`: the process's CPU time (utime + stime, /proc) over `--idle` seconds with nothing
   changing, as a share of one core. This indexer compares the whole store with its record only
   hourly, which a one-minute window would hide: its figure adds that comparison's CPU time (as
   measured at the restart below, an upper bound) divided by the hour;
4. `restart`: SIGTERM, then while it is down one file added and one removed, then started again: the
   seconds until it says it is in step; the pages are then checked to show both changes;
5. `rss`: the peak resident memory (VmHWM) of the first index, of the run through the uploads and of
   the restarted process; the line gives the largest.

Then, what else an upload touches that grows with the store (issue 26, item 6): the upload guard's
check (gunicorn_conf.py; the baseline's from BASELINE as above), and pypiserver's own existence check
and package list, measured with pypiserver's code from the real-behaviour tests' virtualenv.

Each size prints one line, `SCALE files <n>: listed p99 <ms> ms, idle cpu <pct> %, restart <s> s,
rss <MB> MB (baseline: ...)`, and `ROOT`, `GUARD` and `PYPISERVER` lines. Files touch only the store
and a scratch folder; no network. The uploads are removed again, so the cached store stays as made.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import upload_costs
from bench.store import REPO_ROOT, cache_root, generated_once
from components.in_container import watching
from tests.support.index_client import make_wheel

BASELINE = "d48f7bd"  # the last commit whose indexer scanned the whole store on every change
PROGRAMS = "components/in_container"
LAYOUT = "s1"
PER_PROJECT = 10
UPLOAD_VERSION = "9"  # every file the benchmark adds has this major version: removed at the end
IN_STEP = re.compile(r"pages written")  # both indexers' line once a scan has brought the pages in step


def generate(folder: Path, n_files: int) -> None:
    """`n_files` small sdists, `scale_<i>-1.<k>.tar.gz` for k in 0..9, each with its own content."""
    packages = folder / "packages"
    packages.mkdir(parents=True)
    for i in range(n_files // PER_PROJECT):
        for k in range(PER_PROJECT):
            name = f"scale_{i:06d}-1.{k}.tar.gz"
            (packages / name).write_bytes(f"sdist {name}\n".encode())
    (folder / "manifest.json").write_text(json.dumps({"layout": LAYOUT, "files": n_files}))


def ensure_store(n_files: int) -> Path:
    folder = cache_root() / f"scale-{n_files}-{LAYOUT}"
    generated_once(folder, lambda tmp: generate(tmp, n_files))
    packages = folder / "packages"
    for leftover in packages.glob(f"*-{UPLOAD_VERSION}.*"):  # an interrupted run's uploads
        leftover.unlink()
    return packages


def program_folder(scratch: Path, which: str) -> Path:
    """The indexer's modules: the working tree's, or the baseline's from git history."""
    if which == "current":
        return REPO_ROOT / PROGRAMS
    folder = scratch / f"baseline-{BASELINE}"
    folder.mkdir(exist_ok=True)
    listing = subprocess.run(
        ["git", "ls-tree", "--name-only", f"{BASELINE}:{PROGRAMS}"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    if listing.returncode:
        raise SystemExit(f"the baseline needs commit {BASELINE} in this repository's history: {listing.stderr}")
    for name in listing.stdout.split():
        source = subprocess.run(["git", "show", f"{BASELINE}:{PROGRAMS}/{name}"], cwd=REPO_ROOT, capture_output=True)
        (folder / name).write_bytes(source.stdout)
    return folder


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]


class Running:
    """One indexer process, its output lines read as they come."""

    def __init__(self, program: Path, packages: Path, pages: Path):
        self.process = subprocess.Popen(
            [sys.executable, str(program / "static_index.py"), str(packages), str(pages), "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.started = time.monotonic()
        self.lines: list[tuple[float, str]] = []
        self.seen = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self.seen:
                self.lines.append((time.monotonic(), line.rstrip("\n")))
                self.seen.notify_all()

    def wait_for(self, pattern: re.Pattern, timeout: float) -> float:
        """Seconds from the start to the first line matching `pattern`."""
        deadline = time.monotonic() + timeout
        with self.seen:
            while True:
                for at, line in self.lines:
                    if pattern.search(line):
                        return at - self.started
                if self.process.poll() is not None or time.monotonic() > deadline:
                    tail = "\n".join(line for _, line in self.lines[-20:])
                    raise RuntimeError(f"the indexer never said {pattern.pattern!r}:\n{tail}")
                self.seen.wait(1.0)

    def stop(self) -> float:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=120)
        return time.monotonic() - self.started


def wait_until(check, timeout: float, pause: float = 0.001) -> float:
    began = time.monotonic()
    while not check():
        if time.monotonic() - began > timeout:
            raise RuntimeError(f"not seen within {timeout} s")
        time.sleep(pause)
    return time.monotonic() - began


def names_file(page: Path, filename: str) -> bool:
    try:
        return filename in page.read_text()
    except OSError:
        return False


def root_names(root: Path, project: str, last: list[int]) -> bool:
    """Whether the root HTML page (written after the JSON one) lists `project`; read only when it was
    replaced (it grows with the store)."""
    try:
        inode = root.stat().st_ino
    except OSError:
        return False
    if inode == last[0]:
        return False
    last[0] = inode
    return f">{project}</a>" in root.read_text()


def put(packages: Path, wheel: Path) -> float:
    """Write `wheel` into the store as pypiserver writes an upload (in place, then closed); the close's time."""
    data = wheel.read_bytes()
    with open(packages / wheel.name, "wb") as upload:
        upload.write(data)
    return time.monotonic()


@dataclass
class Figures:
    first: float = 0.0
    listed_ms: list[float] = field(default_factory=list)
    new_listed_ms: list[float] = field(default_factory=list)
    root_ms: list[float] = field(default_factory=list)
    idle_pct: float = 0.0
    rescan_pct: float = 0.0
    restart: float = 0.0
    restart_cpu: float = 0.0
    rss_first_mb: float = 0.0
    rss_running_mb: float = 0.0
    rss_restart_mb: float = 0.0

    @property
    def rss_mb(self) -> float:
        return max(self.rss_first_mb, self.rss_running_mb, self.rss_restart_mb)

    @staticmethod
    def p(values: list[float], q: float) -> float:
        return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]

    def line(self) -> str:
        return (
            f"listed p99 {self.p(self.listed_ms, 99):.1f} ms, idle cpu {self.idle_pct + self.rescan_pct:.2f} %, "
            f"restart {self.restart:.1f} s, rss {self.rss_mb:.0f} MB"
        )


def measure(program: Path, packages: Path, scratch: Path, uploads: int, new_projects: int, idle: float) -> Figures:
    n_projects = len(list(packages.glob("scale_*-1.0.tar.gz")))
    pages = scratch / "pages"
    shutil.rmtree(pages, ignore_errors=True)
    wheels = scratch / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    rng = random.Random(26)  # noqa: S311  (which projects get uploads, not a secret)
    figures = Figures()
    indexer = Running(program, packages, pages)
    try:
        figures.first = indexer.wait_for(IN_STEP, timeout=7200)
        figures.rss_first_mb = peak_rss_mb(indexer.process.pid)
        for k in range(uploads):
            project = f"scale-{rng.randrange(n_projects):06d}"
            wheel = make_wheel(wheels, project, f"{UPLOAD_VERSION}.{k}")
            closed = put(packages, wheel)
            page = pages / "simple" / project / "index.json"
            wait_until(lambda: names_file(page, wheel.name), timeout=600)  # noqa: B023 (called at once)
            figures.listed_ms.append((time.monotonic() - closed) * 1000)
            time.sleep(0.05)
        uploaded = [wheel.name for wheel in sorted(wheels.iterdir())]
        last_root = [0]
        for k in range(new_projects):
            project = f"scale-new-{k}"
            wheel = make_wheel(wheels, project, f"{UPLOAD_VERSION}.0")
            closed = put(packages, wheel)
            wait_until(lambda: names_file(pages / "simple" / project / "index.json", wheel.name), timeout=600)  # noqa: B023
            figures.new_listed_ms.append((time.monotonic() - closed) * 1000)
            wait_until(lambda: root_names(pages / "simple" / "index.html", project, last_root), timeout=600)  # noqa: B023
            figures.root_ms.append((time.monotonic() - closed) * 1000)
        time.sleep(3)  # let the last changes' follow-up settle before the quiet minute
        before = cpu_seconds(indexer.process.pid)
        time.sleep(idle)
        figures.idle_pct = (cpu_seconds(indexer.process.pid) - before) / idle * 100
        figures.rss_running_mb = peak_rss_mb(indexer.process.pid)
    finally:
        indexer.stop()
    # While it is down: one file more, one upload gone.
    added = make_wheel(wheels, f"scale-{rng.randrange(n_projects):06d}", f"{UPLOAD_VERSION}.999")
    shutil.copy(added, packages / added.name)
    settled = time.time() - 60  # made while it was down, not in the last second (both list a file once settled)
    os.utime(packages / added.name, (settled, settled))
    gone = packages / uploaded[0]
    gone.unlink()
    restarted = Running(program, packages, pages)
    try:
        figures.restart = restarted.wait_for(IN_STEP, timeout=7200)
        figures.restart_cpu = cpu_seconds(restarted.process.pid)
        for name, listed in ((added.name, True), (gone.name, False)):
            project = name.split("-")[0].replace("_", "-")
            if names_file(pages / "simple" / project / "index.json", name) != listed:
                raise RuntimeError(f"after the restart the pages {'miss' if listed else 'still list'} {name}")
        figures.rss_restart_mb = peak_rss_mb(restarted.process.pid)
    finally:
        restarted.stop()
        for leftover in packages.glob(f"*-{UPLOAD_VERSION}.*"):
            leftover.unlink()
    return figures


def warm(packages: Path) -> None:
    """A stat of every file, so each indexer starts with the same warm inode cache."""
    with os.scandir(packages) as entries:
        for entry in entries:
            entry.stat()


def run_size(n_files: int, args: argparse.Namespace, scratch: Path) -> None:
    packages = ensure_store(n_files)
    results: dict[str, Figures] = {}
    for which in ("baseline", "current"):
        if which == "baseline" and args.no_baseline:
            continue
        warm(packages)
        uploads = args.baseline_uploads if which == "baseline" and args.baseline_uploads else args.uploads
        figures = measure(program_folder(scratch, which), packages, scratch, uploads, args.new_projects, args.idle)
        if which == "current":  # its hourly full comparison, which no one-minute window would show
            figures.rescan_pct = figures.restart_cpu / watching.FULL_RESCAN_SECONDS * 100
        results[which] = figures
        print(
            f"  {which:8} files {n_files}: first index {figures.first:.1f} s; listed median "
            f"{statistics.median(figures.listed_ms):.1f} ms, p99 {Figures.p(figures.listed_ms, 99):.1f} ms "
            f"({len(figures.listed_ms)} uploads); idle cpu {figures.idle_pct:.2f} % over {args.idle:.0f} s "
            f"+ {figures.rescan_pct:.2f} % hourly comparison; restart {figures.restart:.1f} s "
            f"({figures.restart_cpu:.1f} s cpu); peak rss {figures.rss_first_mb:.0f} MB first index, "
            f"{figures.rss_running_mb:.0f} MB through the uploads, {figures.rss_restart_mb:.0f} MB restarted",
            flush=True,
        )
    current, baseline = results["current"], results.get("baseline")
    versus = f" (baseline: {baseline.line()})" if baseline else ""
    print(f"SCALE files {n_files}: {current.line()}{versus}", flush=True)
    if args.new_projects:
        root = f"new project listed p99 {Figures.p(current.new_listed_ms, 99):.1f} ms, root page p99 {Figures.p(current.root_ms, 99):.1f} ms"
        if baseline:
            root += f" (baseline: new project listed p99 {Figures.p(baseline.new_listed_ms, 99):.1f} ms, root page p99 {Figures.p(baseline.root_ms, 99):.1f} ms)"
        print(f"ROOT files {n_files}: {root}", flush=True)
    baseline_programs = None if args.no_baseline else program_folder(scratch, "baseline")
    guard = upload_costs.guard_costs(packages, baseline_programs)
    versus = f" (baseline: upload check {guard['baseline_check_ms']:.1f} ms)" if baseline_programs else ""
    print(
        f"GUARD files {n_files}: upload check {guard['check_ms']:.2f} ms, first listing at the worker's start "
        f"{guard['start_ms']:.0f} ms (in the background){versus}",
        flush=True,
    )
    if not args.no_pypiserver:
        pypi = upload_costs.pypiserver_costs(packages)
        print(
            f"PYPISERVER files {n_files}: upload's existence check {pypi['exists_ms']:.0f} ms, package list "
            f"{pypi['package_list_ms']:.0f} ms and {pypi['peak_rss_mb'] - pypi['before_mb']:.0f} MB, "
            f"guard before a removal {pypi['guard_removal_ms']:.0f} ms",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--uploads", type=int, default=50, help="uploads timed per indexer and size")
    parser.add_argument("--baseline-uploads", type=int, help="fewer uploads for the baseline (default: --uploads)")
    parser.add_argument("--new-projects", type=int, default=5, help="uploads of new projects (the root page)")
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of the idle CPU window")
    parser.add_argument("--no-baseline", action="store_true", help="this indexer only")
    parser.add_argument("--no-pypiserver", action="store_true", help="skip pypiserver's own costs (needs its venv)")
    args = parser.parse_args(argv)
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="store-scale-", dir=cache_root()) as scratch:
        for n_files in args.sizes:
            run_size(n_files, args, Path(scratch))
    print(f"run took {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
