"""What else an upload touches that grows with the store (issue 26, item 6), for bench/store_scale.py.

- The upload guard (gunicorn_conf.py, in pypiserver's process): its check of one upload, as the
  baseline's guard made it (a listing of the store, every name parsed) and as this one makes it
  (stored_releases.py; also the one listing it makes when the worker starts). In this process, with
  each version's own rules, on a name no stored release has (a new version: the usual upload).
- pypiserver's own work, with its code from the real-behaviour tests' virtualenv (pypiserver at the
  image's release, tests/support/real_pypiserver.py): the existence check of every upload
  (`SimpleFileBackend.exists`, which CachingFileBackend inherits: a walk of the whole store with a stat
  of each file), the package list a removal needs (`find_version` reads `get_all_packages`, which the
  cached backend builds again after every change) with the memory it takes, and the guard's listing
  before a removal (every name parsed by pypiserver's parser, to hash the files for the audit).
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import time
import types
from pathlib import Path

from components.in_container import gunicorn_conf, index_rules
from components.in_container.folder_watch import Watch
from components.in_container.stored_releases import StoredReleases
from components.pypiserver.settings import DEFAULT_IMAGE
from tests.support.real_pypiserver import ensure_venv

UPLOAD = "scale_000001-8.0.tar.gz"  # a new version of a stored project
NAMES = Watch.CREATE | Watch.DELETE | Watch.MOVED_FROM | Watch.MOVED_TO


def _median_ms(check, times: int = 5) -> float:
    took = []
    for _ in range(times):
        began = time.perf_counter()
        check()
        took.append((time.perf_counter() - began) * 1000)
    return statistics.median(took)


def _module(folder: Path, name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(f"baseline_{name}", folder / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def guard_costs(packages: Path, baseline: Path | None) -> dict[str, float]:
    """Milliseconds: the guard's check of one upload, now (and its start), and in the baseline."""
    reads = ("scale_000001", "8.0")  # what pypiserver's parser reads from UPLOAD
    costs: dict[str, float] = {}
    releases = StoredReleases(
        str(packages), lambda name: gunicorn_conf.release_key(index_rules, name), Watch.open(str(packages), NAMES)
    )
    began = time.perf_counter()
    releases.build()  # in the worker, in a thread of its own when it starts
    costs["start_ms"] = (time.perf_counter() - began) * 1000

    def check() -> None:
        stored = os.listdir(packages) if releases.may_hold(UPLOAD) else []
        assert gunicorn_conf.refusal(index_rules, UPLOAD, reads, stored) is None

    costs["check_ms"] = _median_ms(check)
    if baseline is not None:
        old_conf, old_rules = _module(baseline, "gunicorn_conf"), _module(baseline, "index_rules")
        costs["baseline_check_ms"] = _median_ms(
            lambda: old_conf.refusal(old_rules, UPLOAD, reads, os.listdir(packages)), times=3
        )
    return costs


# Runs in pypiserver's virtualenv: its own functions, timed, and the process's peak memory.
PYPISERVER = r"""
import json, os, resource, sys, time
from pathlib import Path
from pypiserver.backend import all_listed_files, listdir
from pypiserver.pkg_helpers import guess_pkgname_and_version

root, upload = Path(sys.argv[1]), sys.argv[2]


def timed(work):
    began = time.perf_counter()
    work()
    return (time.perf_counter() - began) * 1000


figures = {"before_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
# SimpleFileBackend.exists, as file_upload calls it for every upload without --overwrite
figures["exists_ms"] = timed(lambda: any(upload == path.name for path in all_listed_files(root)))
# gunicorn_conf.guard before a removal: the files pypiserver is about to remove
figures["guard_removal_ms"] = timed(lambda: [f for f in os.listdir(root) if guess_pkgname_and_version(f) == ("x", "1")])
# get_all_packages as CachingFileBackend builds it (a removal's find_version reads it), kept
packages = []
figures["package_list_ms"] = timed(lambda: packages.extend(listdir(root)))
figures["packages"] = len(packages)
figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(figures))
"""


def pypiserver_costs(packages: Path) -> dict[str, float]:
    venv = ensure_venv(DEFAULT_IMAGE.split(":")[1])
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-c", PYPISERVER, str(packages), UPLOAD],
        capture_output=True, text=True, check=True, timeout=3600,
    )  # fmt: skip
    return json.loads(result.stdout)
