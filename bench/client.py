"""The one client of the benchmark, the same for every configuration.

Load: ``wrk`` (Debian's 4.1.0, from the pypi-bench/tools image, run with ``--network host`` against
127.0.0.1 only). Why wrk and not a Python asyncio client: the limit (nginx, static files) answers
~50,000 req/s on these 2 cores; a Python client tops out at a few thousand req/s per core and would
measure itself, not the server. wrk is C with one epoll loop per thread, takes a Lua script for a
per-request path sequence and headers (the Authorization header, the page-then-file order), speaks
HTTPS (OpenSSL, without verifying the certificate: fine for loopback, and the https URL still costs
the server its TLS handshake and encryption), and reports latency percentiles. Each phase runs one
thread per connection (``-t C -c C``), so every connection strictly alternates a page and the file it
links, as pip does, and calls ``request()`` after each response (no pipelining).

pip and twine: the venv's own (their versions are printed), with credentials from a netrc file
(pip, as the README tells users) and from TWINE_USERNAME/TWINE_PASSWORD (twine).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from tests.support.index_client import client_env, make_wheel

BIN = Path(sys.executable).parent
WRK_TIMEOUT_S = 10


@dataclass(frozen=True)
class Endpoint:
    """How the client reaches one configuration."""

    index_url: str  # .../simple/
    upload_url: str | None  # None: the configuration takes no uploads (static)
    user: str | None = None  # None: no credentials sent
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None  # https: verify with this CA; None with https: do not verify
    insecure: bool = False

    @property
    def origin(self) -> str:
        parts = urlsplit(self.index_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def host(self) -> str:
        return urlsplit(self.index_url).hostname or ""

    @property
    def https(self) -> bool:
        return urlsplit(self.index_url).scheme == "https"

    @property
    def authorization(self) -> str | None:
        if self.user is None:
            return None
        return "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()


# ---------------------------------------------------------------------------------------- plain HTTP
def _ssl_context(endpoint: Endpoint) -> ssl.SSLContext | None:
    if not endpoint.https:
        return None
    if endpoint.ca_file:
        return ssl.create_default_context(cafile=endpoint.ca_file)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def fetch(endpoint: Endpoint, url: str, credentials: bool = True, timeout: float = 30) -> tuple[int, bytes]:
    """GET ``url`` (absolute) with the endpoint's credentials unless told not to: (status, body)."""
    request = urllib.request.Request(url)
    if credentials and endpoint.authorization:
        request.add_header("Authorization", endpoint.authorization)
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=_ssl_context(endpoint)) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_healthy(endpoint: Endpoint, timeout: float = 120) -> float:
    start = time.monotonic()
    while True:
        try:
            if fetch(endpoint, endpoint.origin + "/health", credentials=False, timeout=3)[0] == 200:
                return time.monotonic() - start
        except OSError:
            pass
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{endpoint.origin}/health did not answer 200 within {timeout:.0f} s")
        time.sleep(0.25)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.extend(v for k, v in attrs if k == "href" and v)


def page_links(body: bytes) -> list[str]:
    parser = _Links()
    parser.feed(body.decode("utf-8", "replace"))
    return parser.hrefs


def index_path(endpoint: Endpoint) -> str:
    """The path of the root listing, e.g. /simple/."""
    return urlsplit(endpoint.index_url).path


def page_path(endpoint: Endpoint, project: str) -> str:
    """The path of a project's page, e.g. /simple/<project>/."""
    return index_path(endpoint) + project + "/"


def file_prefix(endpoint: Endpoint, samples: dict[str, str]) -> str:
    """The path prefix under which the server links files, read from real pages (project -> newest file).

    Each sampled page must link its newest file at ``prefix + filename`` with one and the same prefix:
    the load then requests exactly what the page links for every project, as pip would.
    """
    prefixes = set()
    for project, newest in samples.items():
        page_url = endpoint.origin + page_path(endpoint, project)
        status, body = fetch(endpoint, page_url)
        if status != 200:
            raise RuntimeError(f"GET {page_url}: HTTP {status}")
        links = [urljoin(page_url, href).split("#", 1)[0] for href in page_links(body)]
        match = [link for link in links if link.endswith("/" + newest)]
        if len(match) != 1:
            raise RuntimeError(f"{page_url} does not link {newest} exactly once: {links}")
        if urlsplit(match[0]).netloc != urlsplit(endpoint.origin).netloc:
            raise RuntimeError(f"{page_url} links {match[0]} on another server")
        prefixes.add(urlsplit(match[0]).path[: -len(newest)])
    if len(prefixes) != 1:
        raise RuntimeError(f"{endpoint.origin}: pages link files under several prefixes {sorted(prefixes)}")
    return prefixes.pop()


# ---------------------------------------------------------------------------------------- wrk
@dataclass
class LoadResult:
    requests: int
    seconds: float
    bytes: int
    errors_status: int  # HTTP status >= 400
    errors_socket: int  # connect/read/write errors and timeouts
    p50_ms: float
    p99_ms: float
    max_ms: float
    cpu_s: float = 0.0  # CPU of the configuration's containers during the phase
    cpu_by_container: dict[str, float] = field(default_factory=dict)  # container name -> CPU seconds

    @property
    def ok(self) -> int:
        return max(0, self.requests - self.errors_status)

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    @property
    def mb_per_s(self) -> float:
        return self.bytes / self.seconds / 1e6 if self.seconds else 0.0

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * self.cpu_s / self.ok if self.ok else float("nan")


def _lua_str(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal for ASCII text


def wrk_script(endpoint: Endpoint, sequence: list[tuple[str, ...]], seed: int = 1) -> str:
    """A wrk script that, per connection, picks a random entry of ``sequence`` and requests its paths in order.

    The random generator is seeded per thread with a fixed seed, so every configuration gets the same
    sequence of requests. Credentials go in the Authorization header when the endpoint has a user.
    """
    netloc = urlsplit(endpoint.origin).netloc
    headers = {"Host": netloc, "User-Agent": "pypi-bench/wrk"}
    if endpoint.authorization:
        headers["Authorization"] = endpoint.authorization
    entries = ",\n".join("  {" + ", ".join(_lua_str(p) for p in entry) + "}" for entry in sequence)
    header_lua = ", ".join(f"[{_lua_str(k)}] = {_lua_str(v)}" for k, v in headers.items())
    return f"""-- generated by bench/client.py
local entries = {{
{entries}
}}
local headers = {{ {header_lua} }}
local queue = {{}}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("tid", next_id)
end

function init(args)
  math.randomseed({seed} * 1000 + (tid or 0))
end

function request()
  if #queue == 0 then
    local entry = entries[math.random(#entries)]
    for i = #entry, 1, -1 do queue[#queue + 1] = entry[i] end
  end
  local path = table.remove(queue)
  return wrk.format("GET", path, headers)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {{"requests": %d, "duration_us": %d, "bytes": %d, "status": %d, "socket": %d, ' ..
    '"p50_us": %d, "p99_us": %d, "max_us": %d}}\\n',
    summary.requests, summary.duration, summary.bytes, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def run_wrk(
    tools_image: str,
    endpoint: Endpoint,
    sequence: list[tuple[str, ...]],
    connections: int,
    seconds: float,
    name: str,
    labels: dict[str, str],
    inside: tuple[str, str] | None = None,
) -> LoadResult:
    """One load phase. ``inside=(container id, inner origin)``: run wrk in that container's network
    namespace against ``inner origin`` (its own 127.0.0.1), else on the host against the published port.
    The Host header is the published one either way, as clients send it."""
    with tempfile.TemporaryDirectory(prefix="pypi-bench-wrk-") as tmp:
        script = Path(tmp) / "load.lua"
        script.write_text(wrk_script(endpoint, sequence))
        os.chmod(tmp, 0o755)  # noqa: S103  (wrk in its container reads the script)
        network, origin = (f"container:{inside[0]}", inside[1]) if inside else ("host", endpoint.origin)
        argv = ["docker", "run", "--rm", "--name", name, "--network", network]
        for key, value in labels.items():
            argv += ["--label", f"{key}={value}"]
        argv += ["--mount", f"type=bind,source={tmp},target=/bench,readonly", "--entrypoint", "wrk", tools_image]
        argv += ["-t", str(connections), "-c", str(connections), "-d", f"{seconds:g}s"]
        argv += ["--timeout", f"{WRK_TIMEOUT_S}s", "-s", "/bench/load.lua", origin + "/"]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + WRK_TIMEOUT_S + 60)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    data = json.loads(line[len("BENCH ") :])
    return LoadResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        bytes=data["bytes"],
        errors_status=data["status"],
        errors_socket=data["socket"],
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
    )


# ---------------------------------------------------------------------------------------- pip, twine
@dataclass
class TimedRun:
    seconds: float | None  # None: failed
    detail: str = ""


def _pip_env(home: Path, endpoint: Endpoint) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    # client_env drops PIP_* and the CA overrides (REQUESTS_CA_BUNDLE would defeat --cert).
    env = client_env(HOME=str(home), PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    if endpoint.user is not None:
        netrc = home / ".netrc"
        netrc.write_text(f"machine {endpoint.host}\nlogin {endpoint.user}\npassword {endpoint.password}\n")
        netrc.chmod(0o600)
        env["NETRC"] = str(netrc)
    return env


def pip_download(endpoint: Endpoint, projects: list[str], expect: set[str], work: Path) -> TimedRun:
    """`pip download --no-deps` of ``projects`` (credentials in ~/.netrc); seconds, or why it failed."""
    dest = Path(tempfile.mkdtemp(prefix="dl-", dir=work))
    argv = [str(BIN / "python"), "-m", "pip", "download", "--no-deps", "--no-cache-dir", "--progress-bar", "off"]
    argv += ["--dest", str(dest), "--index-url", endpoint.index_url]
    if endpoint.https and endpoint.ca_file:
        argv += ["--cert", endpoint.ca_file]
    else:  # plain HTTP (as the pipConf output says), or https without a CA: do not verify
        argv += ["--trusted-host", urlsplit(endpoint.index_url).netloc]
    argv += projects
    start = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, env=_pip_env(work / "home", endpoint), timeout=300)
    elapsed = time.monotonic() - start
    got = {p.name for p in dest.iterdir()}
    shutil.rmtree(dest, ignore_errors=True)
    if proc.returncode != 0 or got != expect:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
        return TimedRun(None, f"exit {proc.returncode}, {len(got & expect)}/{len(expect)} files: {' | '.join(tail)}")
    return TimedRun(elapsed)


def median_run(runs: list[TimedRun]) -> TimedRun:
    ok = [r.seconds for r in runs if r.seconds is not None]
    if len(ok) < len(runs):
        return TimedRun(None, next(r.detail for r in runs if r.seconds is None))
    return TimedRun(statistics.median(ok), " ".join(f"{s:.2f}" for s in ok))


def twine_upload(endpoint: Endpoint, name: str, work: Path) -> TimedRun:
    """One `twine upload` of a new small wheel, credentials from the environment (as CI does)."""
    assert endpoint.upload_url
    folder = Path(tempfile.mkdtemp(prefix="up-", dir=work))
    wheel = make_wheel(folder, name, "1.0.0")
    env = client_env(
        HOME=str(work / "home"),
        TWINE_USERNAME=endpoint.user or "anonymous",  # twine wants a name even where nothing checks it
        TWINE_PASSWORD=endpoint.password or "anonymous",
        TWINE_NON_INTERACTIVE="1",
    )
    cert = ["--cert", endpoint.ca_file] if endpoint.https and endpoint.ca_file else []
    argv = [str(BIN / "twine"), "upload", "--disable-progress-bar", *cert, "--repository-url", endpoint.upload_url]
    argv.append(str(wheel))
    start = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=180)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        text = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)
        status = re.search(r"(\d{3} [A-Za-z][A-Za-z ]+?)(?: from|\s*$|\n)", text)
        return TimedRun(None, status.group(1) if status else text.strip().splitlines()[-1][:80])
    return TimedRun(elapsed)
