"""Serving benchmark: the recipe, the image's default, what our program deploys, and the static limit.

    venv/bin/python -m bench.serving            # full: 10,000 files, 10 s per load phase (several minutes)
    venv/bin/python -m bench.serving --quick    # smoke: 1,000 files, 3 s per phase (~2 min)

Starts four configurations side by side on copies of one store of package files (bench/configs.py),
with the pinned software the deployment runs (the pypiserver v2.4.1 stand-in of tests/host/images.py),
then loads each with the same client (wrk, bench/client.py) at concurrency 1 and 16, alternating the
configurations within each phase:
  page+file  `/simple/<random project>/` then the file that page links, as pip does;
  /simple/   the root listing;
  10 KB, 5 MB one file, repeatedly;
each with credentials where the configuration has auth; then `pip download --no-deps` of 20 packages
with credentials (median of 3) and one `twine upload`. It prints a table, the goals, and as its LAST
line, for the authenticated page+file mix at concurrency 16:

    serving: ours_rps=<n> recipe_rps=<n> static_rps=<n> vs_recipe=<x> vs_static=<y> p99_ms=<z>

Traffic goes to 127.0.0.1 only. Every container and volume it creates is removed at the end, also
on failure or SIGTERM. Needs: a Docker engine, mmdebstrap (first build of the base image), the venv's
pip and twine. Nothing on this machine beyond that: wrk, nginx and htpasswd come in an image.
"""

from __future__ import annotations

import argparse
import math
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench import cgroups
from bench.client import (
    LoadResult,
    TimedRun,
    fetch,
    file_prefix,
    index_path,
    median_run,
    page_path,
    pip_download,
    run_wrk,
    twine_upload,
    wait_healthy,
)
from bench.configs import Configuration, Lab, container_commands
from bench.images import ensure_bench_images
from bench.store import LARGE, SMALL, ensure_store
from tests.host.commands import docker, log
from tests.host.pypiserver_release import image_requirements

CONCURRENCY = (1, 16)
PHASES = ("page+file", "/simple/", "10 KB", "5 MB")
PIP_PACKAGES = 20
PIP_ROUNDS = 3
GOALS = {"vs_recipe": 20.0, "vs_static": 0.25, "p99_ms": 50.0, "memory_mb": 256.0, "pip_vs_static": 1.5}


def _sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the `finally` that removes everything


def _mb(n: float) -> str:
    return f"{n / 2**20:.0f} MB"


def _fmt(x: float, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:,.{digits}f}"


def _versions(tools_image: str) -> str:
    out = docker(
        "run", "--rm", "--network", "none", "--entrypoint", "dpkg-query", tools_image,
        "-W", "-f", "${Package} ${Version}, ", "nginx", "wrk", "apache2-utils",
    ).stdout  # fmt: skip
    pip_v = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True, text=True).stdout.split()[1]
    twine = subprocess.run([str(Path(sys.executable).parent / "twine"), "--version"], capture_output=True, text=True)
    twine_v = twine.stdout.split()[2] if twine.returncode == 0 else "?"
    return f"{out.strip().rstrip(',')}; client pip {pip_v}, twine {twine_v}"


def _settle(config: Configuration, timeout: float = 180) -> float:
    """Wait until the configuration's containers idle (< 5 % of a core over 1 s): caches built, pages written."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        before = cgroups.cpu_ns(config.containers)
        time.sleep(1)
        if cgroups.cpu_ns(config.containers) - before < 0.05e9:
            break
    return time.monotonic() - start


def _check(config: Configuration) -> str:
    """Auth really is what the table says: without credentials a protected index answers 401."""
    endpoint = config.endpoint
    anonymous = fetch(endpoint, endpoint.index_url, credentials=False)[0]
    if endpoint.user is not None:
        status = fetch(endpoint, endpoint.index_url)[0]
        if anonymous != 401 or status != 200:
            raise RuntimeError(f"{config.title}: /simple/ answers {anonymous} without and {status} with credentials")
        return "401 without credentials"
    if anonymous != 200:
        raise RuntimeError(f"{config.title}: /simple/ answers {anonymous} without credentials")
    return "open"


def run(args: argparse.Namespace) -> int:
    n_files = args.files or (1_000 if args.quick else 10_000)
    seconds = args.seconds or (3.0 if args.quick else 10.0)
    prefix = f"pypi-bench-{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(18)  # > 12 characters, as the program requires
    started = time.monotonic()
    load_before = os.getloadavg()

    images, tools_image = ensure_bench_images()
    store = ensure_store(n_files)
    regular = [p for p in store.projects if p.name not in (SMALL, LARGE)]
    small, large = store.project(SMALL), store.project(LARGE)
    pip_projects = [regular[i * len(regular) // PIP_PACKAGES] for i in range(PIP_PACKAGES)]
    samples = {p.name: p.newest for p in (regular[0], regular[len(regular) // 2], regular[-1], small, large)}

    work = Path(tempfile.mkdtemp(prefix="pypi-bench-"))
    lab = Lab(prefix, tools_image, images.pypiserver, store, work, password)
    configs: list[Configuration] = []
    problems: list[str] = []
    try:
        log(f"bench: starting 4 configurations on {n_files} files ({prefix})")
        configs.append(lab.recipe())
        configs.append(lab.default())
        ours, deployment = lab.ours(args.ca_file, args.insecure)
        configs.append(ours)
        configs.append(lab.static())
        by_key = {c.key: c for c in configs}
        lab.track_volumes([cid for c in configs for cid in c.containers])
        ours_command = container_commands(deployment)

        sequences: dict[str, dict[str, list[tuple[str, ...]]]] = {}
        access: dict[str, str] = {}
        for config in configs:
            endpoint = config.endpoint
            startup = wait_healthy(endpoint)
            access[config.key] = _check(config)
            prefix_path = file_prefix(endpoint, samples)  # also warms each server's caches
            for project in (small, large):
                status, body = fetch(endpoint, endpoint.origin + prefix_path + project.newest)
                if status != 200 or len(body) != store.size(project.newest):
                    raise RuntimeError(f"{config.title}: {project.newest} -> HTTP {status}, {len(body)} bytes")
            root = index_path(endpoint)
            sequences[config.key] = {
                "page+file": [(page_path(endpoint, p.name), prefix_path + p.newest) for p in regular],
                "/simple/": [(root,)],
                "10 KB": [(prefix_path + small.newest,)],
                "5 MB": [(prefix_path + large.newest,)],
            }
            idle = _settle(config)
            log(
                f"bench: {config.key} ready ({startup:.1f} s to healthy, idle after {idle:.1f} s), "
                f"files linked under {prefix_path}"
            )

        groups = {c.key: c.containers for c in configs}
        inside = {c.key: None if args.via_published_ports else c.inside() for c in configs}
        names = {cid: name.removeprefix(prefix + "-") for c in configs for cid, name in c.names().items()}
        results: dict[tuple[str, int, str], LoadResult] = {}
        with cgroups.RssSampler(groups) as sampler:
            for phase in PHASES:
                for connections in CONCURRENCY:
                    for config in configs:  # alternated: drift on the machine hits all alike
                        cpu_before = cgroups.cpu_ns_each(config.containers)
                        result = run_wrk(
                            tools_image, config.endpoint, sequences[config.key][phase], connections, seconds,
                            f"{prefix}-wrk", lab.labels, inside[config.key],
                        )  # fmt: skip
                        cpu_after = cgroups.cpu_ns_each(config.containers)
                        result.cpu_by_container = {
                            names[cid]: (cpu_after[cid] - cpu_before[cid]) / 1e9 for cid in config.containers
                        }
                        result.cpu_s = sum(result.cpu_by_container.values())
                        results[(phase, connections, config.key)] = result
                        log(
                            f"bench: {phase:9} c={connections:<2} {config.key:7} {result.rps:9.1f} req/s "
                            f"p50 {result.p50_ms:8.1f} ms p99 {result.p99_ms:8.1f} ms "
                            f"errors {result.errors_status}+{result.errors_socket}"
                        )

            expect = {p.newest for p in pip_projects}
            pip_runs: dict[str, list[TimedRun]] = {c.key: [] for c in configs}
            for round_ in range(PIP_ROUNDS):
                for config in configs:
                    run_ = pip_download(config.endpoint, [p.name for p in pip_projects], expect, work)
                    pip_runs[config.key].append(run_)
                    log(f"bench: pip download #{round_ + 1} {config.key}: {run_.seconds or run_.detail}")
            pip = {key: median_run(runs) for key, runs in pip_runs.items()}

            uploads: dict[str, TimedRun] = {}
            for config in configs:
                if config.takes_uploads:
                    uploads[config.key] = twine_upload(config.endpoint, f"bench-upload-{config.key}", work)
                    log(
                        f"bench: twine upload {config.key}: {uploads[config.key].seconds or uploads[config.key].detail}"
                    )
        peak = {c.key: sum(cgroups.peak_memory_bytes(cid) for cid in c.containers) for c in configs}
        peak_rss = dict(sampler.peak)
        versions = _versions(tools_image)
    finally:
        problems = lab.cleanup()
        shutil.rmtree(work, ignore_errors=True)
        if problems:
            log("bench: CLEANUP INCOMPLETE: " + "; ".join(problems))

    # ------------------------------------------------------------------ report
    out: list[str] = []
    out.append("")
    out.append(f"Serving benchmark: {n_files:,} package files ({len(store.projects):,} projects x 5 versions), "
               f"{seconds:g} s per load phase, same client (wrk) for all, configurations alternated")  # fmt: skip
    out.append(
        f"pypiserver image: {images.pypiserver} stand-in from the release's files, pypiserver 2.4.1 + "
        + ", ".join(image_requirements("2.4.1"))
    )
    out.append(f"tools: {versions}")
    out += [f"ours runs: {line}" for line in ours_command]
    out.append(f"ours URL: {by_key['ours'].endpoint.index_url}")
    proxied = [c.title for c in configs if inside[c.key] is None]
    if args.via_published_ports:
        out.append("load path: wrk on the host -> published port on 127.0.0.1 (through docker-proxy)")
    else:
        if proxied:
            out.append(f"load path for {', '.join(proxied)}: published port (no publishing container found)")
        out.append("load path: wrk in the network namespace of the container that publishes the port, to its "
                   "127.0.0.1 (bypasses docker-proxy, which caps published loopback ports at ~9-12k req/s here); "
                   "pip and twine use the published ports")  # fmt: skip
    out.append("")
    head = ("configuration", "auth (checked)", "server", "peak mem", "peak RSS", "pip 20 pkgs", "twine upload")
    rows: list[tuple[str, ...]] = []
    for c in configs:
        up = uploads.get(c.key)
        upload = (
            "n/a" if up is None else (f"{up.seconds:.2f} s" if up.seconds is not None else f"failed: {up.detail[:40]}")
        )
        dl = pip[c.key]
        rows.append((
            c.title, f"{c.auth} ({access[c.key]})", c.server, _mb(peak[c.key]), _mb(peak_rss[c.key]),
            f"{dl.seconds:.2f} s" if dl.seconds is not None else f"failed: {dl.detail[:40]}", upload,
        ))  # fmt: skip
    out += _table(head, rows)
    out.append("  peak mem: the cgroup's high-water mark (rss + page cache; memory.max_usage_in_bytes on cgroup v1, "
               "memory.peak on v2) summed over the configuration's containers; peak RSS: sampled every 0.5 s. "
               "pip: `pip download --no-deps`, median of 3.")  # fmt: skip
    out.append("")
    head2 = ("phase", "conc", "configuration", "req/s", "p50 ms", "p99 ms", "max ms", "errors", "MB/s", "CPU ms/req")
    rows = []
    for phase in PHASES:
        for connections in CONCURRENCY:
            for c in configs:
                r = results[(phase, connections, c.key)]
                auth = " (auth)" if c.endpoint.user else ""
                rows.append((
                    phase + auth, str(connections), c.title, f"{r.rps:,.0f}", _fmt(r.p50_ms), _fmt(r.p99_ms),
                    _fmt(r.max_ms, 0), f"{r.errors_status}+{r.errors_socket}", _fmt(r.mb_per_s),
                    _fmt(r.cpu_ms_per_request, 2),
                ))  # fmt: skip
    out += _table(head2, rows, right=(1, 3, 4, 5, 6, 7, 8, 9))
    out.append("  req/s counts responses below 400 (page and file each count); errors = HTTP >= 400 + socket "
               f"errors/timeouts ({10} s); CPU = the configuration's containers' CPU time per successful request.")  # fmt: skip

    out.append("")
    out.append("CPU per successful request by container of configuration 3 (ms; the profile of where it spends time):")
    ours_names = list(results[(PHASES[0], CONCURRENCY[0], "ours")].cpu_by_container)
    rows = []
    for phase in PHASES:
        for connections in CONCURRENCY:
            r = results[(phase, connections, "ours")]
            rows.append(
                (phase, str(connections), *(_fmt(1000 * r.cpu_by_container[n] / max(r.ok, 1), 3) for n in ours_names))
            )
    out += _table(("phase", "conc", *ours_names), rows, right=tuple(range(1, 2 + len(ours_names))))

    mix = {key: results[("page+file", 16, key)] for key in by_key}
    ours_rps, recipe_rps, static_rps = mix["ours"].rps, mix["recipe"].rps, mix["static"].rps
    vs_recipe = ours_rps / recipe_rps if recipe_rps else math.inf
    vs_static = ours_rps / static_rps if static_rps else math.inf
    pip_ratio = (
        pip["ours"].seconds / pip["static"].seconds
        if pip["ours"].seconds is not None and pip["static"].seconds
        else math.inf
    )
    goal_rows = [
        ("page+file c16: ours / recipe", f"{vs_recipe:.2f}x", f">= {GOALS['vs_recipe']:g}x", vs_recipe >= GOALS["vs_recipe"]),
        ("page+file c16: ours / static", f"{vs_static:.2f}x", f">= {GOALS['vs_static']:g}x", vs_static >= GOALS["vs_static"]),
        ("page+file c16: ours p99", f"{mix['ours'].p99_ms:.1f} ms", f"<= {GOALS['p99_ms']:g} ms", mix["ours"].p99_ms <= GOALS["p99_ms"]),
        ("memory of the deployment (peak)", _mb(peak["ours"]), f"< {GOALS['memory_mb']:g} MB", peak["ours"] < GOALS["memory_mb"] * 2**20),
        ("pip download 20: ours / static", f"{pip_ratio:.2f}x", f"<= {GOALS['pip_vs_static']:g}x", pip_ratio <= GOALS["pip_vs_static"]),
    ]  # fmt: skip
    out.append("")
    out += _table(("goal", "measured", "target", "met"), [(a, b, c, "yes" if d else "NO") for a, b, c, d in goal_rows])
    other = docker("ps", "--quiet", check=False).stdout.split()
    out.append(f"machine: {os.cpu_count()} cores, load average {load_before[0]:.2f} before / {os.getloadavg()[0]:.2f} "
               f"after, {len(other)} other containers running at the end; run took {time.monotonic() - started:.0f} s"
               + ("; CLEANUP INCOMPLETE: " + "; ".join(problems) if problems else "; everything removed"))  # fmt: skip
    out.append(
        f"serving: ours_rps={ours_rps:.0f} recipe_rps={recipe_rps:.0f} static_rps={static_rps:.0f} "
        f"vs_recipe={vs_recipe:.2f} vs_static={vs_static:.2f} p99_ms={mix['ours'].p99_ms:.1f}"
    )
    print("\n".join(out), flush=True)
    return 1 if problems else 0


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], right: tuple[int, ...] = ()) -> list[str]:
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            str(c).rjust(w) if i in right else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(head), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 1,000 files, 3 s phases")
    parser.add_argument("--files", type=int, help="package files in the store (multiple of 5)")
    parser.add_argument("--seconds", type=float, help="duration of each load phase")
    parser.add_argument("--ca-file", help="CA certificate to verify an https deployment with")
    parser.add_argument(
        "--via-published-ports",
        action="store_true",
        help="run wrk on the host against the published ports (through docker-proxy) instead of inside "
        "the publishing container's network namespace",
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="https without verifying the certificate (by default it is verified with --ca-file, or the deployment's own CA)",
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _sigterm)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
