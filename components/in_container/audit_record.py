"""The upload audit's record: one line per upload or removal (gunicorn_conf.py writes them), naming the
user from the Basic credentials and never the password. Standard library only: it runs inside the
pypiserver image.
"""

from __future__ import annotations

import base64
import time


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
