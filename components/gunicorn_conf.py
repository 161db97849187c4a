"""gunicorn's configuration for pypiserver, with the upload audit.

pypiserver names `gunicorn.conf.py` and GUNICORN_CMD_ARGS as the ways to configure its gunicorn
(pypiserver/__main__.py); the container's GUNICORN_CMD_ARGS points gunicorn at this file, which the
program writes into a volume of its own. It keeps the image's settings (docker/gunicorn.conf.py in
pypiserver v2.4.x) and adds one hook: after every upload or removal request, one line in the log
(so in the host's journal): who, what, the answer, when, and for a stored file its sha256.

pypiserver itself logs an upload's user only at INFO (with every request) and a removal's never.
The hook reads what pypiserver already parsed: bottle caches a request's forms and files in the
WSGI environ (`bottle.request.forms`, `bottle.request.files`), and the user is the name half of the
Basic credentials (never the password). It runs INSIDE the container: standard library only, and
gevent (the worker the image uses) to hash a stored file off the request loop.
"""

from __future__ import annotations

import base64
import hashlib
import os
import sys
import time

# The image's own settings.
errorlog = "-"
preload_app = True
workers = 1
worker_class = "gevent"

PACKAGES_DIR = "/data/packages"  # server_args.PACKAGES_DIR; this file cannot import the program
AUDITED = ("file_upload", "remove_pkg")


def user_of(authorization: str | None) -> str:
    """The user name in a Basic Authorization header ('-' without one); the password is dropped."""
    if not authorization or not authorization.lower().startswith("basic "):
        return "-"
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
    except ValueError:
        return "-"
    return decoded.split(":", 1)[0] or "-"


def audit_line(action: str, user: str, status: str, when: float, **fields: object) -> str:
    """One journal line per audited request: `audit: <action> user=... status=... time=... key=value...`.

    Values are quoted as repr when they hold a space, a quote or a non-printable character, so a
    crafted file name cannot forge a second record or split the line.
    """
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))
    parts = [f"audit: {action}", f"user={_value(user)}", f"status={_value(status)}", f"time={stamp}"]
    parts += [f"{key}={_value(value)}" for key, value in fields.items()]
    return " ".join(parts)


def _value(value: object) -> str:
    text = str(value)
    if not text or any(not c.isprintable() or c in " \"'=\\" for c in text):
        return repr(text)
    return text


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
        _log(audit_line("remove", user, status, when, project=forms.get("name", ""), version=forms.get("version", "")))
        return
    files = environ.get("bottle.request.files")
    content = files.get("content") if files is not None else None
    filename = getattr(content, "raw_filename", "") or ""
    if status != "200" or not filename or "/" in filename:
        _log(audit_line("upload", user, status, when, file=filename))
        return
    try:  # hash in gevent's thread pool: a large file must not stall the other requests
        from gevent import get_hub  # type: ignore[import-untyped, import-not-found, unused-ignore]

        get_hub().threadpool.spawn(_stored, user, status, when, filename)
    except ImportError:
        _stored(user, status, when, filename)
