"""What a user does against a deployed index: build a wheel, twine upload, pip install, plain HTTP.

Shared by the real-behaviour tests (pypiserver on loopback) and the real-host tests.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

BIN = Path(sys.executable).parent
# requests lets these override an explicit `verify` (psf/requests#3829): twine's --cert and pip's cert
# would be ignored on machines that set them, as this one does. A user's shell rarely has them.
CA_OVERRIDES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def client_env(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if k not in CA_OVERRIDES and not k.startswith("PIP_")}, **extra}


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def make_wheel(
    directory: Path,
    name: str,
    version: str,
    size: int = 0,
    requires_python: str | None = None,
    requires: Iterable[str] = (),
) -> Path:
    """A real, installable pure-Python wheel (PEP 427), built here so tests need no build backend.

    Its module holds VERSION; `requires` become Requires-Dist lines. `size` pads it with
    incompressible bytes, for upload-size tests.
    """
    module = re.sub(r"[-_.]+", "_", name)
    dist_info = f"{module}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": f'VERSION = "{version}"\n'.encode(),
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: test package\n"
            + (f"Requires-Python: {requires_python}\n" if requires_python else "")
            + "".join(f"Requires-Dist: {requirement}\n" for requirement in requires)
        ).encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: pypi-index-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    if size:
        files[f"{module}/padding.bin"] = os.urandom(size)
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files.items())
    record += f"{dist_info}/RECORD,,\n"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as wheel:
        for member, data in files.items():
            wheel.writestr(member, data)
        wheel.writestr(f"{dist_info}/RECORD", record)
    return path


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def http_get(
    url: str,
    user: str | None = None,
    password: str | None = None,
    timeout: float = 10,
    ca: Path | None = None,
    accept: str | None = None,
    follow_redirects: bool = True,
) -> Response:
    """GET with optional basic auth and Accept; HTTPS is verified against `ca` (or the system's CAs).
    With `follow_redirects` off, a redirect is the answer (its Location in the headers)."""
    request = urllib.request.Request(url)
    context = ssl.create_default_context(cafile=str(ca)) if ca else None
    if user is not None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    if accept is not None:
        request.add_header("Accept", accept)
    handlers: list[urllib.request.BaseHandler] = [urllib.request.HTTPSHandler(context=context)]
    if not follow_redirects:
        handlers.append(_NoRedirects())
    try:
        with urllib.request.build_opener(*handlers).open(request, timeout=timeout) as reply:
            return Response(reply.status, reply.read(), _headers(reply.headers))
    except urllib.error.HTTPError as error:
        return Response(error.code, error.read(), _headers(error.headers))


def dropped_connection(error: BaseException) -> bool:
    """The server closed the connection before answering (http.client.RemoteDisconnected) or reset it:
    what the front server's reload does to a request that reaches the old server as it stops
    (components/front/scripts.py). No handler ran, so the request is safe to send again."""
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    # RemoteDisconnected is a ConnectionResetError; closed during the handshake, it is an SSL EOF.
    return isinstance(reason, (ConnectionResetError, ssl.SSLEOFError))


def retrying_a_dropped_connection(get: Callable[[], Response]) -> tuple[Response, bool]:
    """`get()`, sent once more at once if its connection was dropped unanswered, as pip retries:
    (the answer, whether it took the retry). Any other failure, or a second drop, is raised."""
    try:
        return get(), False
    except OSError as error:
        if not dropped_connection(error):
            raise
    return get(), True


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # urllib then raises the 3xx as an HTTPError: the answer itself


def _headers(message) -> dict[str, str]:
    """Header -> value, repeated headers joined as one list (`Vary: Accept` + `Vary: Accept-Encoding`)."""
    return {key: ", ".join(message.get_all(key)) for key in set(message.keys())}


def upload(
    upload_url: str, wheel: Path, user: str, password: str, timeout: float = 60, ca: Path | None = None
) -> Response:
    """The upload twine makes (multipart, `:action=file_upload`), in-process: cheap enough to repeat."""
    fields: list[tuple[str, str | None, bytes]] = [
        (":action", None, b"file_upload"),
        ("protocol_version", None, b"1"),
        ("content", wheel.name, wheel.read_bytes()),
    ]
    return post_form(upload_url, fields, user, password, timeout, ca)


def remove(upload_url: str, project: str, version: str, user: str, password: str, ca: Path | None = None) -> Response:
    """pypiserver's removal API (`:action=remove_pkg`): every file of one release."""
    fields: list[tuple[str, str | None, bytes]] = [
        (":action", None, b"remove_pkg"),
        ("name", None, project.encode()),
        ("version", None, version.encode()),
    ]
    return post_form(upload_url, fields, user, password, 60, ca)


def post_form(
    upload_url: str,
    fields: list[tuple[str, str | None, bytes]],
    user: str,
    password: str,
    timeout: float,
    ca: Path | None,
) -> Response:
    """A multipart POST to the upload URL, with Basic credentials."""
    boundary = "pypi-index-upload-boundary"
    body = b""
    for name, filename, data in fields:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(upload_url, data=body, method="POST")
    request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    context = ssl.create_default_context(cafile=str(ca)) if ca else None
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as reply:
            return Response(reply.status, reply.read())
    except urllib.error.HTTPError as error:
        return Response(error.code, error.read())


def wait_healthy(base_url: str, timeout: float = 60, ca: Path | None = None) -> float:
    """Seconds until GET /health answers 200 (raises on timeout)."""
    start = time.monotonic()
    while True:
        try:
            if http_get(f"{base_url}/health", timeout=2, ca=ca).status == 200:
                return time.monotonic() - start
        except OSError:
            pass
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{base_url}/health did not answer within {timeout} s")
        time.sleep(0.2)


def twine_upload(
    upload_url: str, wheel: Path, user: str, password: str, ca: Path | None = None
) -> subprocess.CompletedProcess:
    """`twine upload` with credentials from the environment, as CI jobs do (never on the command line)."""
    env = client_env(TWINE_USERNAME=user, TWINE_PASSWORD=password, TWINE_NON_INTERACTIVE="1")
    cert = ["--cert", str(ca)] if ca else []
    return subprocess.run(
        [str(BIN / "twine"), "upload", "--disable-progress-bar", *cert, "--repository-url", upload_url, str(wheel)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def pip_install(
    home: Path, pip_conf: str, host: str, user: str, password: str, name: str, target: Path, ca: Path | None = None
) -> subprocess.CompletedProcess:
    """`pip install NAME` with the program's pip.conf as pip's only config and the password in ~/.netrc.

    `ca` stands in for the pip.conf's `cert` path (where a user would save caCertificate): PIP_CERT
    overrides that one setting and nothing else.
    """
    home.mkdir(parents=True, exist_ok=True)
    conf = home / "pip.conf"
    conf.write_text(pip_conf)
    netrc = home / ".netrc"
    netrc.write_text(f"machine {host}\nlogin {user}\npassword {password}\n")
    netrc.chmod(0o600)
    env = client_env(
        HOME=str(home),
        PIP_CONFIG_FILE=str(conf),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        **({"PIP_CERT": str(ca)} if ca else {}),
    )
    return subprocess.run(
        [str(BIN / "python"), "-m", "pip", "install", "--no-cache-dir", "--no-deps", "--target", str(target), name],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
