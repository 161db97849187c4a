"""The resolution benchmark's pure parts (bench/resolve.py): its store, what it reads off the wire and
the logs, and the summary it ends with. Not timed: the benchmark itself is run by hand (bench/README.md)."""

from __future__ import annotations

import http.server
import itertools
import re
import subprocess
import threading
import urllib.request
import zipfile
from functools import partial
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from bench import resolve
from bench.resolve_store import ROLES, Spec, expected, generate, project, requirements, version
from bench.traffic import CountingProxy, Request, log_requests, parse_requests, wheel_gets
from tests.support.index_client import BIN

SMALL = Spec(versions=4, payload=4096)


def _metadata(wheel: Path) -> tuple[list[str], str]:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (member,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        text = archive.read(member).decode()
    return names, text


def test_the_store_holds_every_version_of_every_project_with_its_dependencies(tmp_path):
    manifest = generate(tmp_path, SMALL)
    wheels = sorted((tmp_path / "packages").iterdir())
    assert len(wheels) == len(ROLES) * SMALL.versions
    assert manifest["expected"] == expected(SMALL)
    for role, i in itertools.product(ROLES, range(1, SMALL.versions + 1)):
        wheel = tmp_path / "packages" / f"{project(role).replace('-', '_')}-{version(i)}-py3-none-any.whl"
        names, metadata = _metadata(wheel)
        assert f"Name: {project(role)}\nVersion: {version(i)}\n" in metadata
        assert re.findall(r"^Requires-Dist: (.+)$", metadata, re.M) == requirements(role, i)
        # As bdist_wheel writes them: the payload first, the dist-info (RECORD last) at the end.
        assert names[-1].endswith(".dist-info/RECORD") and names.index(f"rb_{role}/payload.bin") < 2
        assert wheel.stat().st_size > SMALL.payload, "the payload is stored, not compressed away"
        with zipfile.ZipFile(wheel) as archive:
            assert archive.testzip() is None


def test_the_store_is_the_same_bytes_every_time(tmp_path):
    generate(tmp_path / "a", SMALL)
    generate(tmp_path / "b", SMALL)
    for wheel in (tmp_path / "a" / "packages").iterdir():
        assert wheel.read_bytes() == (tmp_path / "b" / "packages" / wheel.name).read_bytes(), wheel.name


@pytest.mark.parametrize("versions", [4, 7])
def test_the_expected_answer_is_the_newest_of_every_project_that_fits(versions):
    """Brute force over every combination with the newest rb-app: the answer the benchmark checks the
    clients against satisfies every requirement, and no other answer has a newer version of anything."""
    spec = Spec(versions, 0)
    n = spec.versions
    others = [r for r in ROLES if r != "app"]
    needs = {
        (role, i): [(Requirement(r).name, Requirement(r).specifier) for r in requirements(role, i)]
        for role in ROLES
        for i in range(1, n + 1)
    }
    solutions = []
    for combo in itertools.product(range(1, n + 1), repeat=len(others)):
        chosen = {"app": n, **dict(zip(others, combo, strict=True))}
        pins = {project(r): version(i) for r, i in chosen.items()}
        if all(spec_.contains(pins[name]) for key in chosen.items() for name, spec_ in needs[key]):
            solutions.append(chosen)
    best = {project(r): version(max(s[r] for s in solutions)) for r in ROLES}
    assert best == expected(spec) and {project(r): version(i) for r, i in solutions[-1].items()} == best
    # ... and rb-web's is in its lower half: a resolver reads the metadata of most of its versions.
    assert int(expected(spec)["rb-web"].split(".")[0]) <= n - n // 2


def test_requests_are_read_from_plain_http_and_tls_is_left_alone():
    stream = (
        b"GET /simple/rb-app/ HTTP/1.1\r\nHost: x\r\n\r\n"
        b"HEAD /packages/a-1.0-py3-none-any.whl HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /packages/a-1.0-py3-none-any.whl HTTP/1.1\r\nRange: bytes=-8192\r\n\r\n"
        b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
        b"GET /packages/a-1.0-py3-none-any.whl.metadata?x=1 HTTP/1.1\r\n\r\n"
        b"GET /packages/b-1.0-py3-none-any.whl HTTP/1.1\r\n"  # not complete yet
    )
    requests, used, readable = parse_requests(stream)
    assert readable and stream[used:].startswith(b"GET /packages/b-1.0")
    assert [(r.method, r.path, r.ranged) for r in requests] == [
        ("GET", "/simple/rb-app/", False),
        ("HEAD", "/packages/a-1.0-py3-none-any.whl", False),
        ("GET", "/packages/a-1.0-py3-none-any.whl", True),
        ("POST", "/", False),
        ("GET", "/packages/a-1.0-py3-none-any.whl.metadata", False),
    ]
    assert wheel_gets(requests) == (0, 1), "a HEAD is no download; a .metadata is not a wheel"
    assert sum(r.is_metadata for r in requests) == 1
    assert parse_requests(b"\x16\x03\x01\x02\x00\x01\x00") == ([], 0, False)
    assert parse_requests(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n")[2] is False


def test_requests_are_read_from_caddys_access_log():
    lines = [
        '{"level":"info","msg":"handled request","request":{"method":"GET","uri":"/packages/a-1.0-py3-none-any.whl",'
        '"headers":{"Range":["bytes=0-9"]}},"status":206}',
        '{"request":{"method":"GET","uri":"/packages/a-1.0-py3-none-any.whl","headers":{}},"status":200}',
        '{"request":{"method":"GET","uri":"/packages/b-1.0-py3-none-any.whl","headers":{}},"status":401}',
        '{"request":{"method":"GET","uri":"/packages/a-1.0-py3-none-any.whl.metadata"},"status":200}',
        '{"level":"info","msg":"serving initial configuration"}',
        "not json",
    ]
    requests = log_requests(lines)
    assert len(requests) == 4 and requests[0] == Request("GET", "/packages/a-1.0-py3-none-any.whl", True, 206)
    assert wheel_gets(requests) == (1, 1), "a refused request fetched nothing"


def test_the_last_line_has_the_documented_form():
    line = resolve.final_line(1.014, 1.3149, 0.85, 0)
    assert line == "resolve: ours_s=1.01 recipe_s=1.31 static_s=0.85 vs_recipe=1.30 wheel_downloads=0"
    assert re.fullmatch(
        r"resolve: ours_s=\d+\.\d\d recipe_s=\d+\.\d\d static_s=\d+\.\d\d vs_recipe=\d+\.\d\d wheel_downloads=\d+",
        resolve.final_line(0.5, 2.0, 0.4, 12),
    )
    assert resolve.median([1.0, 3.0, 2.0]) == 2.0
    assert str(resolve.median([1.0, None, 2.0])) == "nan", "a failed run is never averaged away"


def test_the_clients_only_resolve_without_a_cache(tmp_path):
    server = resolve.Server("x", CountingProxy(1), user="u", password="p")
    uv, _ = resolve.client_argv("uv", ["uv"], server, tmp_path)
    pip, _ = resolve.client_argv("pip", ["uv"], server, tmp_path)
    assert uv[1:3] == ["pip", "compile"] and "--no-cache" in uv
    assert {"--dry-run", "--ignore-installed", "--no-cache-dir", "--report"} <= set(pip) and "download" not in pip
    assert "http://u:p@127.0.0.1:0/simple/" in uv and "http://u:p@127.0.0.1:0/simple/" in pip
    (tmp_path / "requirements.txt").write_text("# comment\nrb-app==4.0\nrb-log==4.0\n")
    assert resolve.read_pins("uv", tmp_path / "requirements.txt") == {"rb-app": "4.0", "rb-log": "4.0"}


def test_the_access_log_is_the_only_change_to_the_programs_caddyfile(tmp_path):
    """The Caddyfile the program renders, with the bench's access log, is still one Caddy accepts."""
    from tests.support.real_front import localize
    from tests.support.recorded import reveal

    deployment = resolve._ours_deployment("bench-password-1234", 8443)
    caddyfile = reveal(deployment.named("pypi-caddyfile").inputs["stdin"])
    command = deployment.named("pypi-container").plain["command"]
    htpasswd = reveal(deployment.named("pypi-htpasswd").inputs["stdin"])
    logged = resolve.with_access_log(caddyfile, tmp_path / "access.log")
    assert set(logged.splitlines()) - set(caddyfile.splitlines()) == {f"\t\toutput file {tmp_path / 'access.log'}"}
    assert set(caddyfile.splitlines()) - set(logged.splitlines()) == {
        "\t\toutput stderr",
        "\t@not_an_upload not method POST",
        "\tlog_skip @not_an_upload",
    }, "every request is logged, to the bench's file; nothing else changes"
    config = tmp_path / "Caddyfile"
    config.write_text(localize(logged, tmp_path, 8080, 8443, 8081, 2019))
    adapted = subprocess.run(
        [str(BIN / "caddy"), "adapt", "--config", str(config), "--adapter", "caddyfile"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert adapted.returncode == 0 and str(tmp_path / "access.log") in adapted.stdout, adapted.stderr[-2000:]
    assert "--authenticate" in command and htpasswd.startswith("bench:")


def test_the_proxy_counts_bytes_and_reads_plain_requests(tmp_path):
    (tmp_path / "a-1.0-py3-none-any.whl").write_bytes(b"x" * 100_000)
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with CountingProxy(server.server_address[1]) as proxy:
            url = f"http://127.0.0.1:{proxy.port}/a-1.0-py3-none-any.whl"
            with urllib.request.urlopen(url, timeout=10) as reply:
                assert len(reply.read()) == 100_000
            traffic = proxy.take()
            assert traffic.down > 100_000 and traffic.up > 0 and traffic.connections == 1
            assert [(r.method, r.path) for r in traffic.requests] == [("GET", "/a-1.0-py3-none-any.whl")]
            assert wheel_gets(traffic.requests) == (1, 0)
            assert proxy.take().total == 0, "take() starts a new count"
    finally:
        server.shutdown()
        server.server_close()
