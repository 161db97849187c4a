"""The programs that run inside containers (components/in_container/), as the files a host receives.

All go into one folder of the hooks volume named by the hash of their text, `/data/hooks/<hash>/`:
gunicorn reads its configuration there (GUNICORN_CMD_ARGS names the folder) and the indexer runs
static_index.py from there; each imports what it shares with the others from beside itself.
Never a `-c` argument or source text executed from a string: a container's arguments stay short,
`docker inspect` shows a path, and the file a traceback names is the file on the volume.

Beside them, `access.json`: the stack's rules of who may publish what (in_container/project_access.py),
which the guard reads at start. The folder's name is in both containers' arguments, so new program text is a new argument: the
canary tries it first and the containers are replaced. (A file rewritten in place would reach neither
running process, which read their programs once at start.) Earlier folders stay while a container
may still use one (a failed canary leaves the running index on its own); the newest KEEP remain.
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
from pathlib import Path

from .. import in_container
from ..in_container import project_access
from . import args as server_args

# File name in the delivered folder -> the program's source in this repository: every module of
# in_container/, gunicorn's configuration under the name gunicorn gives it.
SOURCES = {
    ("gunicorn.conf.py" if path.name == "gunicorn_conf.py" else path.name): path
    for path in sorted(Path(in_container.__file__).parent.glob("*.py"))
    if path.name != "__init__.py"
}
KEEP = 5
"""Program folders kept in the hooks volume (the current one and those of recent releases)."""


def texts(access: str) -> dict[str, bytes]:
    """Every file of the folder; `access`, the text of access.json (settings/ownership.py: access_file)."""
    return {
        **{name: path.read_bytes() for name, path in SOURCES.items()},
        project_access.ACCESS_FILE: access.encode(),
    }


def digest(access: str) -> str:
    """The folder's name: a hash of every file's name and text."""
    h = hashlib.sha256()
    for name, text in sorted(texts(access).items()):
        h.update(f"{name}\0{len(text)}\0".encode())
        h.update(text)
    return h.hexdigest()[:16]


def folder(access: str) -> str:
    """Where the containers find the programs (inside the hooks volume's mount)."""
    return f"{server_args.HOOKS_DIR}/{digest(access)}"


def gunicorn_config(access: str) -> str:
    return f"{folder(access)}/gunicorn.conf.py"


def indexer_program(access: str) -> str:
    return f"{folder(access)}/static_index.py"


def archive(access: str) -> str:
    """The files as a tar archive in base64 (a text stdin for the step), the same bytes on every run:
    fixed times, owners and modes, so an unchanged program never shows a change."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, text in sorted(texts(access).items()):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(text), 0, 0o644
            tar.addfile(info, io.BytesIO(text))
    return base64.encodebytes(buffer.getvalue()).decode("ascii")
