"""gunicorn's configuration for pypiserver: the upload guard and the upload audit.

pypiserver names `gunicorn.conf.py` and GUNICORN_CMD_ARGS as the ways to configure its gunicorn
(pypiserver/__main__.py); the container's GUNICORN_CMD_ARGS points gunicorn at this file, which the
program writes into a volume of its own. It keeps the image's settings (docker/gunicorn.conf.py in
pypiserver v2.4.x) and adds one hook: after every upload or removal request, one line in the log
(so in the host's journal): who, what, the answer, when, and for a stored file its sha256.

The guard, in front of pypiserver in the same process, refuses before anything is stored:
- a file name the index cannot serve: the indexer's pages and pypiserver must read the same project
  and version from it (`foo-1.0-beta.tar.gz` is project foo to pypiserver, foo-1-0 to a PEP 503
  reader; `.hidden-1.0.tar.gz` and `foo.zip` are stored by pypiserver and listed by nobody);
- a second file for a release under another spelling of its name or version (`Team.Tool-1.0.tar.gz`
  beside `team_tool-1.0.tar.gz`, `team_tool-1.0.0-py3-none-any.whl` beside `..-1.0-py3-none-any.whl`):
  pypiserver compares names byte for byte, installers by PEP 503 and PEP 440. A released file is
  immutable. Which releases the store holds comes from stored_releases.py, kept in step by inotify:
  the folder is listed only to name the other file, not for every upload.
- an upload that would leave the store's disk with less than the indexer's margin, counting the
  uploads already accepted and still being written (the front server's pause, from the indexer's last
  reading, lets two uploads in at once: each would pass alone).
The rules (names, versions, the disk's margin) are the indexer's own: index_rules.py, which the
program delivers into the same folder as this file (components/pypiserver/programs.py), so the guard and the pages can never disagree.

pypiserver itself logs an upload's user only at INFO (with every request) and a removal's never.
The hook reads what pypiserver already parsed: bottle caches a request's forms and files in the
WSGI environ (`bottle.request.forms`, `bottle.request.files`), and the user is the name half of the
Basic credentials (never the password). It runs INSIDE the container: standard library only, and
gevent (the worker the image uses) to hash a stored file off the request loop.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import threading
import time
import types

# The image's own settings.
errorlog = "-"
preload_app = True
workers = 1
worker_class = "gevent"

PACKAGES_DIR = "/data/packages"  # server_args.PACKAGES_DIR; this file cannot import the program
AUDITED = ("file_upload", "remove_pkg")
REMOVING = "pypi_index.removing"  # environ key: [(file, sha256, size)] the guard hashed before a removal
REFUSED = "pypi_index.refused"  # environ key: why the guard refused the request (for its audit line)


def beside(name: str) -> types.ModuleType:
    """The module `name`.py beside this file (in the container, the folder the program delivered them
    all into; under the tests, components/in_container/). Loaded by path: gunicorn reads this file as
    a configuration, not as a module of a package."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{name}.py")
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"no {name} at {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The audit's record format (audit_record.py), under the names this configuration has always had.
_record = beside("audit_record")
user_of, audit_line = _record.user_of, _record.audit_line


def index_rules() -> types.ModuleType:
    """The indexer's rules, index_rules.py."""
    return beside("index_rules")


def release_key(rules: types.ModuleType, filename: str) -> tuple[str, str, str] | None:
    """What makes two files the same file of one release, whatever the spelling: the PEP 503 project,
    the PEP 440 version, and what follows them (a wheel's tags, an sdist's archive kind)."""
    project, version = rules.project_of(filename), rules.version_of(filename)
    if not project or not version:
        return None
    if filename.endswith((".whl", ".egg")):
        rest = "-".join(filename.split("-")[2:])
    else:
        rest = next(suffix for suffix in rules.SUFFIXES if filename.endswith(suffix))
    return project, rules.canonical_version(version), rest.lower()


def refusal(rules: types.ModuleType, filename: str, pypiserver_reads: tuple[str, str] | None, stored: list[str]):
    """Why an upload named `filename` must be refused, as (status, message), or None to let it through.

    `pypiserver_reads` is pypiserver's own (name, version) for the file; `stored`, the store's files.
    """
    key = release_key(rules, filename)
    if key is None or pypiserver_reads is None:
        return "400 Bad Request", f"{filename!r}: not a distribution file name this index can serve"
    name, version = pypiserver_reads
    if rules.normalize(name) != key[0] or rules.canonical_version(version.split("-")[0]) != key[1]:
        return "400 Bad Request", (
            f"{filename!r}: pypiserver would store it as {name} {version}, and the index would list it as "
            f"{key[0]} {key[1]}; name the file NAME-VERSION.tar.gz (PEP 625) or as a wheel (PEP 427)"
        )
    for other in stored:
        if other != filename and release_key(rules, other) == key:
            return "409 Conflict", (
                f"{filename!r}: this release already has {other!r}, the same file under another spelling; "
                "a released file is never replaced: upload a new version"
            )
    return None


def disk_refusal(rules: types.ModuleType, free: int, total: int, in_flight: int, size: int):
    """(status, message) when storing `size` more bytes, besides the `in_flight` bytes of accepted
    uploads still being written, would leave less than the margin free; None otherwise."""
    margin = rules.margin(total)
    if free - in_flight - size >= margin:
        return None
    gib = 1 << 30
    return "507 Insufficient Storage", (
        f"uploads are paused: storing {size / gib:.2f} GiB now would leave less than {margin / gib:.1f} GiB "
        f"free on the index's disk ({free / gib:.1f} GiB free, {in_flight / gib:.2f} GiB of other uploads "
        "being stored); the host's operator must free space"
    )


def owner_refusal(environ, access, project: str | None, action: str):
    """(403, why) when the project's owners (project_access.py) do not include the request's user."""
    reason = access.refusal(user_of(environ.get("HTTP_AUTHORIZATION")), project, action) if project else None
    return ("403 Forbidden", reason) if reason else None


def _refuse(environ, start_response, answer: tuple[str, str], project: str | None):
    """Answer (status, message); the project and the message are kept for the audit line (post_request)."""
    status, message = answer
    environ[REFUSED] = {"project": project or "-", "reason": message}
    start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
    return [(message + "\n").encode()]


def guard(app, rules: types.ModuleType, packages: str, statvfs=os.statvfs, access=None):
    """`app` behind the upload guard: refused uploads never reach pypiserver, so nothing is stored.
    `access`: who may publish what (project_access.py; None: anyone with the upload role).

    The bytes of accepted uploads are counted until pypiserver has answered: one gunicorn worker with
    gevent runs one request at a time between yields, so the check and the count cannot interleave."""
    from pypiserver.bottle_wrapper.bottle import BaseRequest  # type: ignore[import-not-found]
    from pypiserver.pkg_helpers import guess_pkgname_and_version  # type: ignore[import-not-found]

    in_flight = [0]
    access = access or beside("project_access").ANYONE
    # Which releases the store holds, kept in step by inotify: no listing of the folder per upload.
    watch = beside("folder_watch").Watch
    releases = beside("stored_releases").StoredReleases(
        packages,
        lambda name: release_key(rules, name),
        watch.open(packages, watch.CREATE | watch.DELETE | watch.MOVED_FROM | watch.MOVED_TO),
    )
    _in_the_background(releases.build)

    def guarded(environ, start_response):
        if environ.get("REQUEST_METHOD") == "POST":
            # Parsed once: bottle caches the forms and files in the environ, and pypiserver reuses them.
            request = BaseRequest(environ)
            content = request.files.get("content") if request.forms.get(":action") == "file_upload" else None
            expired = access.expired(user_of(environ.get("HTTP_AUTHORIZATION")), time.time())
            if expired:
                return _refuse(environ, start_response, ("401 Unauthorized", expired), None)
            filename = getattr(content, "raw_filename", None)
            if filename:
                # Listed only when the store may hold this release already, to name the other file.
                stored = os.listdir(packages) if releases.may_hold(filename) else []
                # Ownership first: a user who may not publish the project learns nothing of its files.
                project = rules.project_of(filename)
                answer = owner_refusal(environ, access, project, "upload to")
                answer = answer or refusal(rules, filename, guess_pkgname_and_version(filename), stored)
                size = _size(content)
                if answer is None:
                    disk = statvfs(packages)
                    answer = disk_refusal(
                        rules, disk.f_bavail * disk.f_frsize, disk.f_blocks * disk.f_frsize, in_flight[0], size
                    )
                if answer is not None:
                    return _refuse(environ, start_response, answer, project)
                in_flight[0] += size
                try:
                    return app(environ, start_response)
                finally:
                    in_flight[0] -= size
            if request.forms.get(":action") == "remove_pkg":
                project = rules.normalize(request.forms.get("name") or "")
                answer = owner_refusal(environ, access, project, "remove from")
                if answer is not None:
                    return _refuse(environ, start_response, answer, project)
                # The files pypiserver is about to remove (its find_version: the name and version as
                # its parser reads them from each file name), hashed while they still exist, so the
                # audit names each with its sha256.
                release = (request.forms.get("name"), request.forms.get("version"))
                doomed = sorted(f for f in os.listdir(packages) if guess_pkgname_and_version(f) == release)
                environ[REMOVING] = _off_the_loop(lambda: [(f, *_sha256(f"{packages}/{f}")) for f in doomed])
        return app(environ, start_response)

    return guarded


def _size(content) -> int:
    """The size of an uploaded file as bottle holds it (in memory or spooled to a temporary file)."""
    stream = content.file
    here = stream.tell()
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    stream.seek(here)
    return size


def _in_the_background(work) -> None:
    """`work()` in a thread of its own (gevent's thread pool, where there is one): nothing waits for it."""
    try:
        from gevent import get_hub  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError:
        threading.Thread(target=work, daemon=True).start()
        return
    get_hub().threadpool.spawn(work)


def _off_the_loop(work):
    """`work()` in gevent's thread pool, the request waiting for it and the other requests not."""
    try:
        from gevent import get_hub  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError:
        return work()
    return get_hub().threadpool.apply(work)


def post_worker_init(worker) -> None:
    """gunicorn server hook: the worker's application is loaded; put the guard in front of it."""
    access = beside("project_access")
    rules = access.load(os.path.join(os.path.dirname(os.path.abspath(__file__)), access.ACCESS_FILE))
    worker.wsgi = guard(worker.wsgi, index_rules(), PACKAGES_DIR, access=rules)


def _sha256(path: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as source:
        for chunk in iter(lambda: source.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _log(line: str) -> None:
    # One write of the whole line: a record hashed in the thread pool must not interleave with the
    # worker's own log lines (print writes the text and the newline separately).
    os.write(sys.stderr.fileno(), (line + "\n").encode("utf-8", "backslashreplace"))


def _stored(user: str, status: str, when: float, filename: str) -> None:
    try:
        sha256, size = _sha256(f"{PACKAGES_DIR}/{filename}")
    except OSError as error:
        _log(audit_line("upload", user, status, when, file=filename, error=error.strerror or "unreadable"))
        return
    _log(audit_line("upload", user, status, when, file=filename, sha256=sha256, size=size))


def _why(environ) -> dict[str, str]:
    return environ.get(REFUSED) or {}


def post_request(worker, req, environ, resp) -> None:
    """gunicorn server hook: runs after each request, in the worker that answered it."""
    if environ.get("REQUEST_METHOD") != "POST":
        return
    forms = environ.get("bottle.request.forms")
    action = forms.get(":action") if forms is not None else None
    if action not in AUDITED:
        return
    when, status = time.time(), str(resp.status or "-").split(" ", 1)[0]
    user = user_of(environ.get("HTTP_AUTHORIZATION"))
    if action == "remove_pkg":
        release = {"project": forms.get("name", ""), "version": forms.get("version", "")}
        removed = (environ.get(REMOVING) or []) if status == "200" else []
        for filename, sha256, size in removed:
            _log(audit_line("remove", user, status, when, **release, file=filename, sha256=sha256, size=size))
        if not removed:
            _log(audit_line("remove", user, status, when, **{**release, **_why(environ)}))
        return
    files = environ.get("bottle.request.files")
    content = files.get("content") if files is not None else None
    filename = getattr(content, "raw_filename", "") or ""
    if status != "200" or not filename or "/" in filename:
        _log(audit_line("upload", user, status, when, file=filename, **_why(environ)))
        return
    _off_the_loop(lambda: _stored(user, status, when, filename))  # a large file must not stall the others
