"""What a server sent and was asked: a counting TCP proxy on loopback, and a reader of Caddy's access log.

``CountingProxy`` sits in front of one server (127.0.0.1 only) and counts the bytes of every connection
in both directions. Where the connection is plain HTTP/1 it also reads the request heads the client
sends (method, path, whether it asked for a byte range); TLS passes through opaque, counted but not
read: for the https server the requests come from its access log instead (``log_requests``).

Optionally it also stands for a slower link than loopback: ``mbit`` caps what all its connections
together receive from the server (a shared link, as a client's network is), so bytes cost time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

WHEEL = ".whl"


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # without the query
    ranged: bool = False  # a Range header: part of the file
    status: int | None = None  # known from a log, not from the proxy

    @property
    def is_wheel(self) -> bool:
        """A GET of a wheel file itself (not its ``.metadata``); ranged reads count too."""
        return self.method == "GET" and self.path.endswith(WHEEL)

    @property
    def is_metadata(self) -> bool:
        return self.method == "GET" and self.path.endswith(WHEEL + ".metadata")


@dataclass
class Traffic:
    up: int = 0  # client -> server bytes
    down: int = 0  # server -> client bytes
    connections: int = 0
    requests: list[Request] = field(default_factory=list)
    opaque: int = 0  # connections whose requests could not be read (TLS)

    @property
    def total(self) -> int:
        return self.up + self.down


def wheel_gets(requests: Iterable[Request]) -> tuple[int, int]:
    """(full, ranged) GETs of wheel files, answered with a success where the status is known."""
    hits = [r for r in requests if r.is_wheel and (r.status is None or r.status < 400)]
    return sum(not r.ranged for r in hits), sum(r.ranged for r in hits)


def parse_requests(buffer: bytes) -> tuple[list[Request], int, bool]:
    """The complete HTTP/1 requests at the start of ``buffer``: (requests, bytes they take, readable).

    ``readable`` is False once the stream is not HTTP/1 as this reads it (TLS, a chunked body): the
    caller then stops reading that connection. A body is skipped by its Content-Length.
    """
    found: list[Request] = []
    offset = 0
    while True:
        if buffer[offset : offset + 1] == b"\x16":  # a TLS handshake record
            return found, offset, False
        end = buffer.find(b"\r\n\r\n", offset)
        if end < 0:
            return found, offset, len(buffer) - offset < 65536
        head = buffer[offset:end].decode("latin-1").split("\r\n")
        parts = head[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            return found, offset, False
        headers = {}
        for line in head[1:]:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return found, offset, False
        length = int(headers.get("content-length", "0") or 0)
        if end + 4 + length > len(buffer):
            return found, offset, True
        found.append(Request(parts[0], parts[1].split("?", 1)[0], "range" in headers))
        offset = end + 4 + length


def log_requests(lines: Iterable[str]) -> list[Request]:
    """Requests from Caddy's JSON access log (``log { format json }``): one line per request."""
    requests = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        request = entry.get("request") if isinstance(entry, dict) else None
        if not isinstance(request, dict) or "uri" not in request:
            continue
        headers = {str(k).lower() for k in (request.get("headers") or {})}
        requests.append(
            Request(
                str(request.get("method")),
                str(request["uri"]).split("?", 1)[0],
                "range" in headers,
                entry.get("status"),
            )
        )
    return requests


class CountingProxy:
    """A TCP proxy on 127.0.0.1 in front of ``127.0.0.1:upstream_port``, on an event loop of its own thread."""

    def __init__(self, upstream_port: int, mbit: float | None = None):
        self.upstream_port = upstream_port
        self.rate = mbit * 1e6 / 8 if mbit else None  # bytes per second, server -> client
        self._link_free_at = 0.0  # when the emulated link has sent what it was given (loop time)
        self.port = 0
        self._traffic = Traffic()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="counting-proxy")

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(asyncio.start_server(self._handle, "127.0.0.1", 0), self._loop)
        self._server = future.result(timeout=10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def take(self) -> Traffic:
        """What was counted since the last call (connections still open keep counting into the next)."""
        with self._lock:
            taken, self._traffic = self._traffic, Traffic()
        return taken

    def _count(self, up: int = 0, down: int = 0, requests: list[Request] | None = None, **extra: int) -> None:
        with self._lock:
            self._traffic.up += up
            self._traffic.down += down
            self._traffic.requests += requests or []
            self._traffic.connections += extra.get("connections", 0)
            self._traffic.opaque += extra.get("opaque", 0)

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            client_writer.close()
            return
        self._count(connections=1)
        try:
            await asyncio.gather(
                self._pump(client_reader, server_writer, upstream=True),
                self._pump(server_reader, client_writer, upstream=False),
            )
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            for writer in (client_writer, server_writer):
                writer.close()

    async def _link(self, size: int) -> None:
        """Hold ``size`` bytes until the emulated link would have carried them (after what it carries already)."""
        assert self.rate
        loop = asyncio.get_running_loop()
        self._link_free_at = max(self._link_free_at, loop.time()) + size / self.rate
        await asyncio.sleep(self._link_free_at - loop.time())

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, upstream: bool) -> None:
        pending, readable = b"", upstream
        try:
            while data := await reader.read(1 << 16):
                if upstream:
                    requests: list[Request] = []
                    if readable:
                        pending += data
                        requests, used, readable = parse_requests(pending)
                        pending = pending[used:] if readable else b""
                        if not readable:
                            self._count(opaque=1)
                    self._count(up=len(data), requests=requests)
                else:
                    self._count(down=len(data))
                    if self.rate:
                        await self._link(len(data))
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except (OSError, RuntimeError):
            writer.close()
