"""A stand-in for the public index (PyPI) on loopback, for the client journeys.

PEP 503 pages and files served from memory over plain HTTP (pip treats 127.0.0.0/8 as a secure origin;
uv and poetry accept HTTP indexes), on 127.0.0.2: another host than the private index on 127.0.0.1,
as pypi.org is, so credentials kept for the private host (~/.netrc, keyring) never match it. It
records every request (method, path, whether it carried credentials), so a test can assert which
files a client fetched from it, and that it never asked it for a private project's name at all.
"""

from __future__ import annotations

import hashlib
import html
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HOST = "127.0.0.2"


def normalize(name: str) -> str:
    """PEP 503's normalized project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    credentials: bool
    """Whether the request carried an Authorization header."""


@dataclass
class PublicIndex:
    url: str
    """The base URL, http://127.0.0.2:PORT"""
    files: dict[str, bytes]
    projects: dict[str, list[str]]
    """normalized name -> file names"""
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def simple_url(self) -> str:
        return f"{self.url}/simple/"

    def file_path(self, filename: str) -> str:
        return f"/files/{filename}"

    def mark(self) -> int:
        """A position in the record, for `since`."""
        with self.lock:
            return len(self.seen)

    def since(self, mark: int) -> list[Seen]:
        with self.lock:
            return list(self.seen[mark:])

    def record(self, method: str, path: str, credentials: bool) -> None:
        with self.lock:
            self.seen.append(Seen(method, path, credentials))


def _handler(index: PublicIndex) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:
            self.answer(body=False)

        def do_GET(self) -> None:
            self.answer(body=True)

        def answer(self, body: bool) -> None:
            path = self.path.split("?", 1)[0]
            index.record(self.command, path, "Authorization" in self.headers)
            status, content_type, data, location = self.route(path)
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if body:
                self.wfile.write(data)

        def route(self, path: str) -> tuple[int, str, bytes, str | None]:
            page = "text/html; charset=utf-8"
            if path == "/simple/":
                links = "".join(f'<a href="{name}/">{name}</a>\n' for name in sorted(index.projects))
                return 200, page, f"<!DOCTYPE html>\n<html><body>\n{links}</body></html>\n".encode(), None
            match = re.fullmatch(r"/simple/([^/]+)/?", path)
            if match:
                name = normalize(match.group(1))
                if name not in index.projects:
                    return 404, "text/plain", b"not found\n", None
                if match.group(0) != f"/simple/{name}/":
                    return 301, "text/plain", b"", f"/simple/{name}/"
                links = "".join(
                    f'<a href="../../files/{html.escape(filename)}#sha256='
                    f'{hashlib.sha256(index.files[filename]).hexdigest()}">{html.escape(filename)}</a>\n'
                    for filename in index.projects[name]
                )
                return 200, page, f"<!DOCTYPE html>\n<html><body>\n{links}</body></html>\n".encode(), None
            match = re.fullmatch(r"/files/([^/]+)", path)
            if match and match.group(1) in index.files:
                return 200, "application/octet-stream", index.files[match.group(1)], None
            return 404, "text/plain", b"not found\n", None

    return Handler


@contextmanager
def running_public_index(wheels: Iterable[Path]) -> Iterator[PublicIndex]:
    """The stand-in serving `wheels` (file names `name-version-...whl`) until the block ends."""
    files = {wheel.name: wheel.read_bytes() for wheel in wheels}
    projects: dict[str, list[str]] = {}
    for filename in sorted(files):
        projects.setdefault(normalize(filename.split("-", 1)[0]), []).append(filename)
    index = PublicIndex("", files, projects)
    server = ThreadingHTTPServer((HOST, 0), _handler(index))
    server.daemon_threads = True
    index.url = f"http://{HOST}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield index
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
