"""The Docker Engine API, reached the way pulumi-docker's Go client reaches it.

- `ssh://user@host:port`: one `ssh` process per connection, running `docker system dial-stdio` on the
  host, with the argument order of docker/cli v28.5.2 `cli/connhelper/ssh/ssh.go` (`Spec.args`) and
  the flags `cli/connhelper/connhelper.go` (`getConnectionHelper`) adds: the provider's `ssh_opts`,
  then `-o ConnectTimeout=30` unless an option already names ConnectTimeout, then `-T`.
- `unix:///path`: the socket.

The API version is negotiated down to the daemon's, as moby's client does with
`WithAPIVersionNegotiation()` (client/client.go `negotiateAPIVersionPing`): it starts at the version
the client library speaks (moby v28.5.2, which pulumi-docker 5.x links: api.DefaultVersion 1.51) and
takes the daemon's `API-Version` header when that is lower. Every request carries `/v<version>/`.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

CLIENT_API_VERSION = "1.51"


class EngineError(RuntimeError):
    """The daemon answered with an error status; `status` and the daemon's message are kept."""

    def __init__(self, status: int, message: str):
        super().__init__(f"Error response from daemon ({status}): {message}")
        self.status = status
        self.message = message


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def ssh_argv(host: str, ssh_opts: Sequence[str]) -> list[str]:
    """The `ssh` command line of docker/cli's connection helper for an `ssh://user@host:port` URL."""
    url = urllib.parse.urlsplit(host)
    flags = list(ssh_opts)
    if not any("ConnectTimeout" in flag for flag in flags):
        flags += ["-o", "ConnectTimeout=30"]
    if "-T" not in flags:
        flags.append("-T")
    argv = ["ssh"]
    if url.username:
        argv += ["-l", url.username]
    if url.port:
        argv += ["-p", str(url.port)]
    return [*argv, *flags, "--", url.hostname or "", "docker system dial-stdio"]


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.path)
        self.sock = sock


class EngineClient:
    """A small Engine API client: JSON in, JSON out, errors as `EngineError`."""

    def __init__(
        self,
        host: str,
        ssh_opts: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        timeout: float = 600,
    ):
        self.host = host
        self.ssh_opts = list(ssh_opts)
        self.env = dict(os.environ if env is None else env)
        self.timeout = timeout
        self._version: str | None = None
        self._ssh: subprocess.Popen | None = None

    # ------------------------------------------------------------------ transport
    def _connection(self) -> http.client.HTTPConnection:
        if self.host.startswith("unix://"):
            return _UnixConnection(self.host.removeprefix("unix://"), self.timeout)
        if not self.host.startswith("ssh://"):
            raise NotImplementedError(f"the applier reaches engines over unix:// or ssh://, not {self.host}")
        ours, theirs = socket.socketpair()
        self._ssh = subprocess.Popen(
            ssh_argv(self.host, self.ssh_opts),
            stdin=theirs.fileno(),
            stdout=theirs.fileno(),
            stderr=subprocess.PIPE,
            env=self.env,
        )
        theirs.close()
        ours.settimeout(self.timeout)
        connection = http.client.HTTPConnection("docker.example.com", timeout=self.timeout)  # connhelper's Host
        connection.sock = ours
        return connection

    def _ssh_error(self) -> str:
        """What the `ssh` of a failed request said, and how it ended (a reset with nothing on its stderr
        was seen once on a Debian 13 test host: how ssh ended is the clue to keep)."""
        if self._ssh is None:
            return ""
        try:
            status = f"ssh exited with {self._ssh.wait(timeout=10)}"
        except subprocess.TimeoutExpired:
            self._ssh.kill()
            status = "ssh was still running 10 s later (killed)"
        stderr = self._ssh.stderr.read().decode(errors="replace") if self._ssh.stderr else ""
        return f"{status}; its stderr: {stderr.strip() or '(nothing)'}"

    def _close(self) -> None:
        if self._ssh is not None:
            if self._ssh.poll() is None:
                self._ssh.kill()
            self._ssh.wait()
            if self._ssh.stderr:
                self._ssh.stderr.close()
            self._ssh = None

    def raw(
        self, method: str, path: str, body: Any = None, query: Mapping[str, Any] | None = None
    ) -> tuple[int, Mapping[str, str], bytes]:
        """One request on a fresh connection (one `ssh` per request: simple, and each fails on its own)."""
        target = path + ("?" + urllib.parse.urlencode(query) if query else "")
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        connection = self._connection()
        try:
            connection.request(method, target, body=payload, headers=headers)
            response = connection.getresponse()
            data = response.read()
            return response.status, dict(response.getheaders()), data
        except (OSError, http.client.HTTPException) as error:
            detail = self._ssh_error()
            raise ConnectionError(
                f"error during connect to {self.host}: {error}" + (f"\n{detail}" if detail else "")
            ) from None
        finally:
            connection.close()
            self._close()

    # ------------------------------------------------------------------ API
    @property
    def api_version(self) -> str:
        """`min(client, daemon)`, negotiated on first use."""
        if self._version is None:
            _, headers, _ = self.raw("GET", "/_ping")
            daemon = next((v for k, v in headers.items() if k.lower() == "api-version"), "1.24")
            ours = CLIENT_API_VERSION
            self._version = daemon if version_tuple(daemon) < version_tuple(ours) else ours
        return self._version

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: Mapping[str, Any] | None = None,
        stream: bool = False,
    ) -> Any:
        status, _, data = self.raw(method, f"/v{self.api_version}{path}", body, query)
        if status >= 400:
            try:
                message = json.loads(data).get("message", data.decode(errors="replace"))
            except (json.JSONDecodeError, AttributeError):
                message = data.decode(errors="replace")
            raise EngineError(status, message)
        if stream or not data:
            return data.decode(errors="replace")
        return json.loads(data)

    def version(self) -> dict[str, Any]:
        return self.call("GET", "/version")
