"""Where the indexer may stop when Docker asks it to (SIGTERM): between files and between batches of
changes, never while it writes a page or reads a wheel (a stop there would leave a half-written page or
mark the wheel as one that kills it). Standard library only: it runs inside the pypiserver image with
the indexer (static_index.py).
"""

from __future__ import annotations


class Stop(Exception):
    """Docker asked the indexer to stop, and it reached a point where stopping loses nothing."""


ASKED = {"stop": False}


def ask() -> None:
    """What the signal handler does: the next stop point stops."""
    ASKED["stop"] = True


def stop_point() -> None:
    if ASKED["stop"]:
        raise Stop
