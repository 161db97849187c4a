"""Resolution benchmark: how long uv and pip take to resolve a dependency tree, and how much they fetch.

    venv/bin/python -m bench.resolve            # full: 6 projects x 30 versions, 1.5 MB wheels, 5 rounds (~40 s)
    venv/bin/python -m bench.resolve --quick    # smoke: 6 projects x 10 versions, 0.5 MB wheels, 3 rounds (~20 s)

One store (bench/resolve_store.py: dependencies that make a resolver read the metadata of many
versions) is served on loopback by four servers, each behind a counting TCP proxy (bench/traffic.py):

  ours           the real Caddy with the Caddyfile the program renders (dev stack, auth on update,
                 download and list, one user, TLS from Caddy's internal CA), the real indexer's pages
                 and PEP 658 metadata, the real pypiserver behind it (tests/support/real_front.py and
                 tests/support/real_pypiserver.py), plus an access log to count requests;
  recipe         pypiserver as the hand-run recipe runs it: `run -P .htpasswd -a update,download,list`,
                 an apr1 htpasswd as `htpasswd -c` makes it, the default server (waitress);
  static         Caddy's plain file_server over HTTP, no auth, of the same pages and .metadata files:
                 the limit;
  static-nometa  the same without PEP 658: pages that advertise no metadata, no .metadata files.

Each round runs `uv pip compile` and `pip install --dry-run --ignore-installed --report` (resolution
only) of `rb-app` against every server, fresh processes with no cache (uv --no-cache, pip
--no-cache-dir, a new HOME each). It prints one line per (client, server): the median seconds,
bytes through the proxy (both directions, TLS included), and GETs of wheel files (full or a byte
range) and of .metadata files; and as its LAST line:

    resolve: ours_s=<x> recipe_s=<y> static_s=<z> vs_recipe=<recipe_s/ours_s> wheel_downloads=<n>

where each *_s is the median uv time plus the median pip time against that server (static: with
metadata) and wheel_downloads counts every GET of a wheel file ours saw in all measured runs.
Traffic goes to 127.0.0.1 only; everything it starts is stopped and its work folder removed.
Options: --rounds N, --uv PATH (default: the venv's uv, else `python -m uv`), --mbit M (the proxy
emulates an M Mbit/s link from each server, so transferred bytes cost what they cost off loopback).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bench.resolve_store import FULL, QUICK, TOP, ResolveStore, Spec, ensure_store
from bench.store import cache_root
from bench.traffic import CountingProxy, Request, Traffic, log_requests, wheel_gets
from components.front.caddyfile import ACCESS_LOG_ONLY_UPLOADS, ACCESS_LOG_OUTPUT

if TYPE_CHECKING:
    from tests.support.recorded import Deployment

ROUNDS, QUICK_ROUNDS = 5, 3
USER = "bench"
CLIENTS = ("uv", "pip")
SERVERS = ("ours", "recipe", "static", "static-nometa")
TITLES = {
    "ours": "ours (Caddy: indexer pages + PEP 658, TLS, auth)",
    "recipe": "recipe (pypiserver run -P -a ..., waitress)",
    "static": "static (Caddy file_server + .metadata)",
    "static-nometa": "static without PEP 658 metadata",
}


def _sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the context managers that stop everything


def log(message: str) -> None:
    print(f"[resolve] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------ pure parts
@dataclass
class Run:
    seconds: float | None  # None: failed
    traffic: Traffic
    requests: list[Request]
    pins: dict[str, str] = field(default_factory=dict)
    detail: str = ""

    @property
    def wheels(self) -> tuple[int, int]:
        return wheel_gets(self.requests)

    @property
    def metadata(self) -> int:
        return sum(r.is_metadata and (r.status is None or r.status < 400) for r in self.requests)


def median(values: Sequence[float | None]) -> float:
    """The median, or NaN if any run failed (a failure is never averaged away)."""
    if not values or any(v is None for v in values):
        return math.nan
    return float(statistics.median([v for v in values if v is not None]))


def final_line(ours_s: float, recipe_s: float, static_s: float, wheel_downloads: int) -> str:
    """The benchmark's last line (its format is what scripts read)."""
    ratio = recipe_s / ours_s if ours_s > 0 else math.nan
    return (
        f"resolve: ours_s={ours_s:.2f} recipe_s={recipe_s:.2f} static_s={static_s:.2f} "
        f"vs_recipe={ratio:.2f} wheel_downloads={wheel_downloads}"
    )


def result_line(client: str, server: str, runs: Sequence[Run]) -> str:
    """One (client, server) pair: medians over its runs."""
    seconds = median([r.seconds for r in runs])
    full = median([r.wheels[0] for r in runs])
    ranged = median([r.wheels[1] for r in runs])
    each = " ".join("fail" if r.seconds is None else f"{r.seconds:.2f}" for r in runs)
    return (
        f"{client:3} {server:13} {seconds:7.2f} s {median([r.traffic.total for r in runs]) / 1e6:9.2f} MB  "
        f"wheel GETs {full:4.0f} full + {ranged:3.0f} ranged  .metadata GETs {median([r.metadata for r in runs]):3.0f}  "
        f"requests {median([len(r.requests) for r in runs]):4.0f}  runs [{each}]"
    )


def with_access_log(caddyfile: str, path: Path) -> str:
    """The program's Caddyfile with its access log (uploads only, to the journal) widened to every
    request and written to `path`: the only change the bench makes."""
    assert caddyfile.count(ACCESS_LOG_OUTPUT + "\n") == 1, "the program's access log is not where the bench expects it"
    text = caddyfile.replace(ACCESS_LOG_OUTPUT + "\n", f"\t\toutput file {path}\n")
    return "\n".join(line for line in text.split("\n") if line not in ACCESS_LOG_ONLY_UPLOADS)


def static_caddyfile(port: int, tree: Path, access_log: Path, data: Path) -> str:
    return (
        f"{{\n\tadmin off\n\tauto_https off\n\tpersist_config off\n\tstorage file_system {data}\n}}\n\n"
        f"http://127.0.0.1:{port} {{\n\tlog {{\n\t\toutput file {access_log}\n\t\tformat json\n\t}}\n"
        f"\troot * {tree}\n\tfile_server\n}}\n"
    )


# ------------------------------------------------------------------------------------------ servers
@dataclass
class Server:
    key: str
    proxy: CountingProxy
    https: bool = False
    user: str | None = None
    password: str | None = None
    ca: Path | None = None
    access_log: Path | None = None  # Caddy's: the requests of an https server, a check of the proxy's otherwise
    _log_offset: int = 0

    def index_url(self) -> str:
        auth = f"{self.user}:{self.password}@" if self.user else ""
        return f"{'https' if self.https else 'http'}://{auth}127.0.0.1:{self.proxy.port}/simple/"

    def new_log_lines(self) -> list[str]:
        """The access log's lines since the last call, once Caddy has finished writing them."""
        if self.access_log is None:
            return []
        size = -1
        for _ in range(50):
            time.sleep(0.05)
            now = self.access_log.stat().st_size if self.access_log.exists() else 0
            if now == size:
                break
            size = now
        with self.access_log.open("rb") as source:
            source.seek(self._log_offset)
            data = source.read()
        complete = data[: data.rfind(b"\n") + 1]
        self._log_offset += len(complete)
        return complete.decode("utf-8", "replace").splitlines()


def _link_tree(source: Path, target: Path) -> None:
    """Hard links of every file of ``source`` in ``target`` (same filesystem: .cache/bench)."""
    target.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        os.link(path, target / path.name)


@contextlib.contextmanager
def static_server(tree: Path, work: Path) -> Iterator[tuple[int, Path]]:
    """Caddy's plain file_server of ``tree`` over HTTP on 127.0.0.1: (port, its access log)."""
    from tests.host.machine import free_port
    from tests.support.index_client import BIN, wait_healthy

    work.mkdir(parents=True, exist_ok=True)
    port, access_log = free_port(), work / "access.log"
    config = work / "Caddyfile"
    config.write_text(static_caddyfile(port, tree, access_log, work / "data"))
    (tree / "health").write_text("Ok")
    env = {**os.environ, "XDG_CONFIG_HOME": str(work / "config"), "XDG_DATA_HOME": str(work / "data")}
    with (work / "caddy.log").open("wb") as sink:
        process = subprocess.Popen(
            [str(BIN / "caddy"), "run", "--config", str(config), "--adapter", "caddyfile"],
            stdout=sink, stderr=subprocess.STDOUT, cwd=work, env=env,
        )  # fmt: skip
    try:
        wait_healthy(f"http://127.0.0.1:{port}", timeout=30)
        yield port, access_log
    finally:
        process.terminate()
        process.wait(timeout=10)


def _ours_deployment(password: str, https_port: int) -> Deployment:
    """The dev stack as the program declares it, with auth on everything and one user, on ``https_port``."""
    from tests.support.recorded import run_program, stack_config

    config = {
        **stack_config("dev"),
        "httpsPort": str(https_port),
        "authenticate": ["update", "download", "list"],
        "users": {USER: password},
    }
    return run_program("dev", config, secret_keys=("users",))


def _wait_indexed(indexer_output: Path, store: ResolveStore, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while True:
        pages = [indexer_output / "simple" / name / "index.json" for name in store.files]
        if all(p.exists() for p in pages) and all(
            set(files) <= {f["filename"] for f in json.loads(p.read_text())["files"]}
            for p, files in zip(pages, store.files.values(), strict=True)
        ):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the indexer did not list the store within {timeout:.0f} s")
        time.sleep(0.2)


def _static_trees(store: ResolveStore, index: Path, files_info: dict[str, dict], work: Path) -> tuple[Path, Path]:
    """Two static trees of the store: the indexer's own pages with the .metadata files beside the
    wheels, and the same pages rendered without metadata (no .metadata files)."""
    from components.in_container.index_rules import project_of
    from components.in_container.simple_pages import render_project, render_root

    with_meta, without = work / "static-tree", work / "static-nometa-tree"
    shutil.copytree(index / "simple", with_meta / "simple")
    _link_tree(store.packages, with_meta / "packages")
    for path in (index / "metadata").iterdir():
        shutil.copy(path, with_meta / "packages" / path.name)
    _link_tree(store.packages, without / "packages")
    projects: dict[str, dict[str, dict]] = {}
    for name, info in files_info.items():
        project = project_of(name)
        if project is not None:
            projects.setdefault(project, {})[name] = {k: v for k, v in info.items() if k != "metadata_sha256"}
    for project, files in projects.items():
        page = without / "simple" / project / "index.html"
        page.parent.mkdir(parents=True)
        page.write_text(render_project(project, files))
    (without / "simple" / "index.html").write_text(render_root(list(projects)))
    return with_meta, without


def _park(indexer: object) -> None:
    """Idle the indexer's loop before its folders go: tests/support/real_front.py runs it in a daemon thread that
    cannot be stopped, and a scan of a removed folder would end it with a traceback."""
    vars(indexer).update(scan=lambda: 0, packages=os.path.sep)
    vars(vars(indexer)["disk"]).update(check=lambda: False)
    time.sleep(0.5)  # its loop wakes every 0.2 s: a scan under way ends, the next one is the idle one


# ------------------------------------------------------------------------------------------ clients
def find_uv(explicit: str | None) -> list[str]:
    """How to run uv: --uv PATH, else the venv's uv, else `python -m uv`; SystemExit if none."""
    candidates = [[explicit]] if explicit else [[str(Path(sys.executable).parent / "uv")], [sys.executable, "-m", "uv"]]
    for argv in candidates:
        try:
            if subprocess.run([*argv, "--version"], capture_output=True, timeout=30).returncode == 0:
                return argv
        except OSError:
            continue
    raise SystemExit(
        "uv not found: install the pinned version into the venv (venv/bin/pip install uv==<pin>) or into a "
        "folder of its own (venv/bin/pip install --target /tmp/uv uv==<pin>) and pass --uv /tmp/uv/bin/uv"
    )


def _client_env(home: Path, server: Server) -> dict[str, str]:
    from tests.support.index_client import client_env

    home.mkdir(parents=True)
    env = {k: v for k, v in client_env().items() if not k.startswith("UV_") and k != "SSL_CERT_FILE"}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / "cache"), UV_PYTHON_DOWNLOADS="never", NO_COLOR="1")
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    if server.ca is not None:
        env["SSL_CERT_FILE"] = str(server.ca)  # uv; pip gets --cert
    return env


def client_argv(client: str, uv: list[str], server: Server, folder: Path) -> tuple[list[str], Path]:
    """The command that resolves TOP against ``server`` (resolution only, no cache), and its output file."""
    if client == "uv":
        (folder / "requirements.in").write_text(TOP + "\n")
        out = folder / "requirements.txt"
        return [
            *uv, "pip", "compile", str(folder / "requirements.in"), "--no-cache", "--no-config",
            "--index-url", server.index_url(), "--python", sys.executable, "--no-header", "--no-annotate",
            "--quiet", "--output-file", str(out),
        ], out  # fmt: skip
    out = folder / "report.json"
    cert = ["--cert", str(server.ca)] if server.ca else ["--trusted-host", f"127.0.0.1:{server.proxy.port}"]
    return [
        sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-cache-dir", "--quiet",
        "--progress-bar", "off", "--only-binary", ":all:", "--report", str(out), "--index-url", server.index_url(),
        *cert, TOP,
    ], out  # fmt: skip


def read_pins(client: str, out: Path) -> dict[str, str]:
    if not out.exists():
        return {}
    if client == "uv":
        pins = {}
        for line in out.read_text().splitlines():
            name, sep, ver = line.strip().partition("==")
            if sep and not line.startswith("#"):
                pins[name.strip()] = ver.strip()
        return pins
    report = json.loads(out.read_text())
    return {item["metadata"]["name"]: item["metadata"]["version"] for item in report["install"]}


def resolve_once(client: str, uv: list[str], server: Server, work: Path) -> Run:
    folder = Path(tempfile.mkdtemp(prefix=f"{client}-{server.key}-", dir=work))
    try:
        argv, out = client_argv(client, uv, server, folder)
        env = _client_env(folder / "home", server)
        server.proxy.take()
        server.new_log_lines()
        start = time.monotonic()
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=folder, timeout=600)
        elapsed = time.monotonic() - start
        traffic = server.proxy.take()
        logged = log_requests(server.new_log_lines())
        pins = read_pins(client, out) if proc.returncode == 0 else {}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    detail = ""
    if server.https:
        requests = logged
    else:
        requests = traffic.requests
        if server.access_log is not None and wheel_gets(logged) != wheel_gets(requests):
            detail = f"proxy saw wheel GETs {wheel_gets(requests)}, the access log {wheel_gets(logged)}"
    if proc.returncode != 0:
        tail = " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-3:])
        return Run(None, traffic, requests, detail=f"exit {proc.returncode}: {tail[-300:]}")
    return Run(elapsed, traffic, requests, pins, detail)


# ------------------------------------------------------------------------------------------ the run
def run(args: argparse.Namespace) -> int:
    from passlib.hash import apr_md5_crypt

    from components.pypiserver import args as server_args
    from tests.host.machine import free_port
    from tests.support.index_client import http_get
    from tests.support.real_front import running_front
    from tests.support.real_pypiserver import running_deployed_index, running_index
    from tests.support.recorded import reveal

    started = time.monotonic()
    spec: Spec = QUICK if args.quick else FULL
    rounds = args.rounds or (QUICK_ROUNDS if args.quick else ROUNDS)
    uv = find_uv(args.uv)
    uv_version = subprocess.run([*uv, "--version"], capture_output=True, text=True).stdout.strip()
    pip_version = subprocess.run(
        [sys.executable, "-m", "pip", "--version"], capture_output=True, text=True
    ).stdout.split()[1]
    store = ensure_store(spec, cache_root())
    log(f"store: {store.wheel_count} wheels, {store.total_bytes / 1e6:.0f} MB in {store.root}")
    password = os.urandom(12).hex()
    work = Path(tempfile.mkdtemp(prefix="resolve-", dir=cache_root()))
    runs: dict[tuple[str, str], list[Run]] = {(c, s): [] for c in CLIENTS for s in SERVERS}
    problems: list[str] = []
    try:
        with contextlib.ExitStack() as stack:
            https_port, backend_port, recipe_port = free_port(), free_port(), free_port()
            deployment = _ours_deployment(password, https_port)
            caddy_text = reveal(deployment.named("pypi-caddyfile").inputs["stdin"])
            tag = deployment.named("pypi-image").plain["name"].split(":")[1]
            # ours: pypiserver as the program declares it (arguments, htpasswd, gunicorn configuration),
            # Caddy with its Caddyfile (plus an access log), the indexer writing pages and metadata
            # from the same folder.
            _link_tree(store.packages, work / "ours" / "backend" / "packages")
            backend = stack.enter_context(running_deployed_index(deployment, work / "ours" / "backend", backend_port))
            ours_log = work / "ours" / "access.log"
            front = stack.enter_context(
                running_front(
                    with_access_log(caddy_text, ours_log), work / "ours" / "front", backend.packages, backend_port,
                    https_port,
                )
            )  # fmt: skip
            stack.callback(_park, front.indexer)  # on the way out, before its folders are removed
            index = front.root / "index"
            _wait_indexed(index, store)
            # recipe: `run -P <htpasswd> -a update,download,list <packages>`, an apr1 line as `htpasswd -c` writes.
            recipe_args = ["run", "--port", str(server_args.PORT), "-P", server_args.HTPASSWD]
            recipe_args += ["-a", "update,download,list", server_args.PACKAGES_DIR]
            _link_tree(store.packages, work / "recipe" / "packages")
            stack.enter_context(
                running_index(
                    recipe_args, f"{USER}:{apr_md5_crypt.hash(password)}\n", work / "recipe", tag, recipe_port
                )
            )
            # static: the same pages (and metadata), or the pages without metadata, as plain files.
            with_meta, without = _static_trees(store, index, dict(front.indexer.files), work)
            static_port, static_log = stack.enter_context(static_server(with_meta, work / "static"))
            nometa_port, nometa_log = stack.enter_context(static_server(without, work / "static-nometa"))

            def proxied(port: int) -> CountingProxy:
                return stack.enter_context(CountingProxy(port, args.mbit))

            servers = {
                "ours": Server("ours", proxied(https_port), True, USER, password, front.ca, ours_log),
                "recipe": Server("recipe", proxied(recipe_port), False, USER, password),
                "static": Server("static", proxied(static_port), access_log=static_log),
                "static-nometa": Server("static-nometa", proxied(nometa_port), access_log=nometa_log),
            }
            for server in servers.values():  # each answers its index with these credentials
                reply = http_get(server.index_url().replace(f"{USER}:{password}@", ""), USER, password, ca=server.ca)
                if reply.status != 200 or b"rb-app" not in reply.body:
                    raise RuntimeError(f"{server.key}: /simple/ answered {reply.status}")
            # Warm-up (not measured): each client once against each server (programs and files in the page
            # cache, the credentials' check cached where the server caches it, as in steady use).
            for client in CLIENTS:
                for server in servers.values():
                    resolve_once(client, uv, server, work)
            log(f"ready after {time.monotonic() - started:.0f} s; {rounds} rounds of {len(CLIENTS)} clients x "
                f"{len(SERVERS)} servers")  # fmt: skip
            for round_ in range(rounds):
                for client in CLIENTS:
                    for key in SERVERS:  # alternated: drift on the machine hits all alike
                        result = resolve_once(client, uv, servers[key], work)
                        runs[(client, key)].append(result)
                        if result.seconds is not None and result.pins != store.expected:
                            problems.append(f"{client} against {key} resolved {result.pins}, not {store.expected}")
                        if result.detail:
                            problems.append(f"{client} against {key}: {result.detail}")
                        seconds = "failed" if result.seconds is None else f"{result.seconds:.2f} s"
                        log(f"round {round_ + 1} {client:3} {key:13} {seconds} {result.traffic.total / 1e6:.2f} MB "
                            f"wheel GETs {result.wheels}")  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)

    # ------------------------------------------------------------------ report
    out = [
        "",
        f"Resolution benchmark: `{TOP}` from {len(store.files)} projects x {spec.versions} versions "
        f"({store.wheel_count} wheels, {spec.payload / 2**20:.1f} MB each); median of {rounds} runs, fresh "
        "client processes, no cache, one unmeasured warm-up run each",
        f"link: {f'{args.mbit:g} Mbit/s from each server, emulated at the proxy' if args.mbit else 'loopback'}",
        f"clients: {uv_version}: `uv pip compile --no-cache`; pip {pip_version}: "
        "`pip install --dry-run --ignore-installed --no-cache-dir --report`",
        f"answer: {' '.join(f'{k}=={v}' for k, v in sorted(store.expected.items()))}",
        "bytes: both directions at a counting TCP proxy in front of each server (TLS included); wheel GETs: "
        "of *.whl files, whole or a byte range (ours: from its access log; the others: from the proxy)",
        "",
    ]
    for key in SERVERS:
        out.append(f"{key:13} = {TITLES[key]}")
    out.append("")
    for client in CLIENTS:
        for key in SERVERS:
            out.append(result_line(client, key, runs[(client, key)]))
    totals = {key: sum(median([r.seconds for r in runs[(c, key)]]) for c in CLIENTS) for key in SERVERS}
    out.append("")
    out.append("uv + pip (medians): " + ", ".join(f"{key} {totals[key]:.2f} s" for key in SERVERS))
    failed = [f"{c} against {k}" for (c, k), rs in runs.items() if any(r.seconds is None for r in rs)]
    for (c, k), rs in runs.items():
        problems += [f"{c} against {k}: {r.detail}" for r in rs if r.seconds is None]
    if problems:
        out.append("PROBLEMS: " + "; ".join(dict.fromkeys(problems)))
    wheel_downloads = sum(sum(r.wheels) for c in CLIENTS for r in runs[(c, "ours")])
    out.append(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; run took "
        f"{time.monotonic() - started:.0f} s"
    )
    out.append(final_line(totals["ours"], totals["recipe"], totals["static"], wheel_downloads))
    print("\n".join(out), flush=True)
    return 1 if failed or problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help=f"smaller store: {QUICK.versions} versions of {QUICK.payload >> 10} KB"
    )
    parser.add_argument(
        "--rounds", type=int, help=f"measured runs per (client, server), default {ROUNDS} ({QUICK_ROUNDS} with --quick)"
    )
    parser.add_argument("--uv", help="the uv binary (default: the venv's, else `python -m uv`)")
    parser.add_argument(
        "--mbit", type=float, help="emulate a link of this many Mbit/s from each server to the clients (at the proxy)"
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _sigterm)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
