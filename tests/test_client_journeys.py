"""Client journeys with real clients: twine, pip, uv and poetry (the versions requirements.txt pins) publish
and install through the configuration the stack outputs render (pypirc, pipConf, uvIndex, poetrySource),
against the real front server, pypiserver and indexer on loopback (as in test_real_index.py).

The everyday journey: a private package (1.0) that depends on a public one. A stand-in public index
(tests/support/public_index.py, on another loopback host) holds the public dependency and, for each private
package, bait: a public project of the same name at version 99.0. The public dependency must come from
the public index, and the bait never (dependency confusion): the public index records every request, and
no journey may ever ask it for a private name. The unsafe baselines (pip's extra-index-url, uv's
unsafe-best-match, poetry without a source pin) show that the bait is taken when it can be.

pip reaches public packages through the index's `fallbackUrl` (pypiserver redirects names it does not
have); uv and poetry through a second index of their own. On a user's machine the system bundle
(client_config.CA_BUNDLE, after update-ca-certificates) holds the public roots and the index's CA: here
it is a file holding certifi's roots and the stack's CA, put where the outputs name the bundle.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import certifi
import pytest

from components import client_config
from tests.host.machine import free_port
from tests.support.deployments import PASSWORDS, deploy
from tests.support.index_client import BIN, client_env, http_get, make_wheel
from tests.support.public_index import PublicIndex, normalize, running_public_index
from tests.support.real_front import running_front
from tests.support.real_pypiserver import running_deployed_index
from tests.support.recorded import reveal

UPLOADER, READER = "ci", "alice"
PUBLIC_DEP, BAIT_VERSION, PRIVATE_VERSION = "public-dep", "99.0", "1.0"
PIP_TOOL, UV_TOOL, POETRY_TOOL = "team-tool", "uv-team-tool", "poetry-team-tool"


@dataclass
class Stack:
    url: str
    ca: Path
    bundle: Path
    """This machine's stand-in for the system bundle: certifi's public roots and the stack's CA."""
    exports: dict

    def output(self, name: str) -> str:
        """A stack output as it works on a user's machine: the system bundle it names is this test's."""
        text = self.exports[name]
        assert client_config.CA_BUNDLE in text, f"{name} no longer names the system bundle"
        return text.replace(client_config.CA_BUNDLE, str(self.bundle))

    def listed(self, project: str, filename: str, timeout: float = 15) -> bool:
        """Whether the project's page (the one clients read) lists the file within `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            page = http_get(f"{self.url}/simple/{project}/", UPLOADER, PASSWORDS[UPLOADER], ca=self.ca)
            if page.status == 200 and filename.encode() in page.body:
                return True
            time.sleep(0.1)
        return False


@contextmanager
def running_stack(workdir: Path, **overrides: str) -> Iterator[Stack]:
    """The staging stack on loopback (ci uploads, alice reads), as test_real_index.py runs it."""
    https_port, backend_port = free_port(), free_port()
    deployment = deploy("staging", domain="127.0.0.1", httpsPort=str(https_port), uploaders=["ci"], **overrides)
    caddy_text = reveal(deployment.named("pypi-caddyfile").inputs["stdin"])
    with (
        running_deployed_index(deployment, workdir / "backend", backend_port) as backend,
        running_front(caddy_text, workdir / "front", backend.packages, backend_port, https_port) as front,
    ):
        bundle = workdir / "ca-certificates.crt"
        bundle.write_text(Path(certifi.where()).read_text() + front.ca.read_text())
        yield Stack(front.url, front.ca, bundle, deployment.exports)


@pytest.fixture(scope="module")
def public(tmp_path_factory) -> Iterator[PublicIndex]:
    directory = tmp_path_factory.mktemp("public")
    wheels = [make_wheel(directory, PUBLIC_DEP, version) for version in ("1.0", "2.0")]
    wheels += [make_wheel(directory, name, BAIT_VERSION) for name in (PIP_TOOL, UV_TOOL, POETRY_TOOL)]
    with running_public_index(wheels) as index:
        yield index


@pytest.fixture(scope="module")
def index(public, tmp_path_factory) -> Iterator[Stack]:
    """No fallback: uv and poetry reach the public index as a second index of their own."""
    with running_stack(tmp_path_factory.mktemp("index")) as stack:
        yield stack


@pytest.fixture(scope="module")
def fallback_index(public, tmp_path_factory) -> Iterator[Stack]:
    """`fallbackUrl` set to the public index: pypiserver redirects the names it does not have (pip)."""
    with running_stack(tmp_path_factory.mktemp("fallback"), fallbackUrl=public.simple_url) as stack:
        yield stack


def user_env(home: Path, **extra: str) -> dict[str, str]:
    """A user's environment: a home of its own, and none of this machine's CA or tool settings."""
    home.mkdir(parents=True, exist_ok=True)
    dropped = ("SSL_CERT_FILE", "SSL_CERT_DIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "VIRTUAL_ENV")
    env = {
        key: value
        for key, value in client_env().items()
        if key not in dropped and not key.startswith(("UV_", "POETRY_", "TWINE_"))
    }
    # No desktop keyring here: credentials come from the environment or ~/.netrc, as the outputs say.
    return {**env, "HOME": str(home), "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring", **extra}


def run(command: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=180)


def succeeded(result: subprocess.CompletedProcess) -> bool:
    if result.returncode != 0:
        print(f"{shlex.join(map(str, result.args))}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.returncode == 0


def app_project(requirement: str) -> str:
    """The [project] table of an application that depends on `requirement` (and is not itself built)."""
    return f'[project]\nname = "app"\nversion = "0.1"\nrequires-python = ">=3.11"\ndependencies = ["{requirement}"]\n\n'


def installed(python: Path, *names: str) -> dict[str, str]:
    """Versions installed in the environment of `python`."""
    code = "import importlib.metadata as m, json, sys; print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))"
    return json.loads(subprocess.check_output([str(python), "-c", code, *names], text=True, timeout=60))


def asked_for(seen: list, name: str) -> list[str]:
    """The requests the public index received for a project: its page or any of its files."""
    module = normalize(name).replace("-", "_")
    return [s.path for s in seen if s.path.startswith((f"/simple/{normalize(name)}/", f"/files/{module}-"))]


def assert_no_confusion(public: PublicIndex, mark: int, private_name: str) -> None:
    """Since `mark`: the public index was never asked for the private name, got no credentials, and
    served the public dependency."""
    seen = public.since(mark)
    assert not asked_for(seen, private_name), f"the public index was asked for {private_name}: {seen}"
    assert not any(s.credentials for s in seen), "credentials for the private index reached the public one"
    assert f"/files/{PUBLIC_DEP.replace('-', '_')}-2.0-py3-none-any.whl" in [s.path for s in seen], seen


# --- twine publishes, pip installs (public packages through the index's fallbackUrl) ---


def pip_home(stack: Stack, home: Path, user: str) -> dict[str, str]:
    """pipConf as ~/.config/pip/pip.conf and the password in ~/.netrc (0600), as the README says."""
    conf = home / ".config" / "pip" / "pip.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(stack.output("pipConf"))
    netrc = home / ".netrc"
    netrc.write_text(f"machine 127.0.0.1\nlogin {user}\npassword {PASSWORDS[user]}\n")
    netrc.chmod(0o600)
    return user_env(home, PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1")


def pip_install(stack: Stack, work: Path, user: str, requirement: str, *options: str) -> subprocess.CompletedProcess:
    env = pip_home(stack, work / "home", user)
    return run(
        [sys.executable, "-m", "pip", "install", "--target", str(work / "site"), "--report", str(work / "report.json"),
         *options, requirement],
        env,
    )  # fmt: skip


def pip_report(work: Path) -> dict[str, tuple[str, str]]:
    """name -> (version, URL it was downloaded from), from pip's installation report."""
    report = json.loads((work / "report.json").read_text())
    return {i["metadata"]["name"]: (i["metadata"]["version"], i["download_info"]["url"]) for i in report["install"]}


@pytest.fixture(scope="module")
def twine_published(fallback_index, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """`twine upload -r private` with pypirc as ~/.pypirc and the password in TWINE_USERNAME/PASSWORD."""
    work = tmp_path_factory.mktemp("twine")
    wheel = make_wheel(work / "dist", PIP_TOOL, PRIVATE_VERSION, requires=[f"{PUBLIC_DEP}>=1"])
    (work / "home").mkdir()
    (work / "home" / ".pypirc").write_text(fallback_index.output("pypirc"))
    credentials = {"TWINE_USERNAME": UPLOADER, "TWINE_PASSWORD": PASSWORDS[UPLOADER], "TWINE_NON_INTERACTIVE": "1"}
    env = user_env(work / "home", **credentials)
    return wheel, run([str(BIN / "twine"), "upload", "--disable-progress-bar", "-r", "private", str(wheel)], env)


def test_twine_publishes_and_pip_installs_public_dependencies_through_the_fallback(
    fallback_index, twine_published, public, tmp_path
):
    wheel, upload = twine_published
    assert succeeded(upload) and fallback_index.listed(PIP_TOOL, wheel.name)
    mark = public.mark()
    assert succeeded(pip_install(fallback_index, tmp_path, UPLOADER, PIP_TOOL))
    report = pip_report(tmp_path)
    assert report[PIP_TOOL] == (PRIVATE_VERSION, f"{fallback_index.url}/packages/{wheel.name}")
    assert report[PUBLIC_DEP] == ("2.0", f"{public.url}/files/public_dep-2.0-py3-none-any.whl")
    assert (tmp_path / "site" / "team_tool" / "__init__.py").read_text() == f'VERSION = "{PRIVATE_VERSION}"\n'
    assert_no_confusion(public, mark, PIP_TOOL)


def test_pip_takes_no_version_of_a_private_name_from_the_fallback(fallback_index, twine_published, public, tmp_path):
    """A version the index lacks fails: pypiserver redirects only names it does not have at all."""
    mark = public.mark()
    result = pip_install(fallback_index, tmp_path, UPLOADER, f"{PIP_TOOL}>=2")
    assert result.returncode != 0 and "No matching distribution" in result.stderr, result.stderr[-2000:]
    assert not asked_for(public.since(mark), PIP_TOOL)


def test_unsafe_baseline_pip_extra_index_url_takes_the_bait(fallback_index, twine_published, public, tmp_path):
    """Why pipConf has no extra-index-url: pip merges the indexes and installs the highest version."""
    mark = public.mark()
    assert succeeded(pip_install(fallback_index, tmp_path, UPLOADER, PIP_TOOL, "--extra-index-url", public.simple_url))
    assert pip_report(tmp_path)[PIP_TOOL] == (BAIT_VERSION, f"{public.url}/files/team_tool-99.0-py3-none-any.whl")
    assert "/files/team_tool-99.0-py3-none-any.whl" in asked_for(public.since(mark), PIP_TOOL)


def test_a_reader_gets_public_dependencies_through_the_fallback(fallback_index, twine_published, public, tmp_path):
    """The front server redirects names the index lacks for every user who may list, not only for
    the uploaders pypiserver's password file names."""
    mark = public.mark()
    assert succeeded(pip_install(fallback_index, tmp_path, READER, PIP_TOOL))
    assert pip_report(tmp_path)[PIP_TOOL][0] == PRIVATE_VERSION
    assert_no_confusion(public, mark, PIP_TOOL)


# --- uv publishes and installs (PyPI, here the stand-in, stays uv's default index after this one) ---


def uv_env(stack: Stack, public: PublicIndex, home: Path, user: str) -> dict[str, str]:
    """Credentials as uvIndex says; SSL_CERT_FILE as its comment says; UV_DEFAULT_INDEX stands in for PyPI."""
    cert_file = re.search(r"SSL_CERT_FILE=(\S+)", stack.output("uvIndex"))
    assert cert_file, "uvIndex says how uv trusts the index's CA"
    return user_env(
        home,
        UV_INDEX_PRIVATE_USERNAME=user,
        UV_INDEX_PRIVATE_PASSWORD=PASSWORDS[user],
        SSL_CERT_FILE=cert_file.group(1),
        UV_DEFAULT_INDEX=public.simple_url,
        UV_PYTHON=sys.executable,
        UV_PYTHON_DOWNLOADS="never",
        UV_NO_PROGRESS="1",
    )


def uv_project(stack: Stack, directory: Path, requirement: str) -> Path:
    """A project that depends on `requirement`, with uvIndex in its pyproject.toml."""
    directory.mkdir(parents=True)
    (directory / "pyproject.toml").write_text(app_project(requirement) + stack.output("uvIndex"))
    return directory


@pytest.fixture(scope="module")
def uv_published(index, public, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """`uv publish --index private` from a project whose pyproject.toml holds uvIndex."""
    work = tmp_path_factory.mktemp("uv-publish")
    wheel = make_wheel(work / "dist", UV_TOOL, PRIVATE_VERSION, requires=[f"{PUBLIC_DEP}>=1"])
    (work / "pyproject.toml").write_text(index.output("uvIndex"))
    env = uv_env(index, public, work / "home", UPLOADER)
    return wheel, run([str(BIN / "uv"), "publish", "--index", "private", str(wheel)], env, cwd=work)


def test_uv_publishes_and_installs_public_dependencies_from_its_second_index(index, uv_published, public, tmp_path):
    wheel, upload = uv_published
    assert succeeded(upload) and index.listed(UV_TOOL, wheel.name)
    mark = public.mark()
    env = uv_env(index, public, tmp_path / "home", READER)
    app = uv_project(index, tmp_path / "app", UV_TOOL)
    assert succeeded(run([str(BIN / "uv"), "lock"], env, cwd=app))
    assert succeeded(run([str(BIN / "uv"), "sync"], env, cwd=app))
    sources = {p["name"]: p["source"] for p in tomllib.loads((app / "uv.lock").read_text())["package"]}
    assert sources[UV_TOOL] == {"registry": index.exports["indexUrl"]}
    assert sources[PUBLIC_DEP] == {"registry": public.simple_url}
    python = app / ".venv" / "bin" / "python"
    assert installed(python, UV_TOOL, PUBLIC_DEP) == {UV_TOOL: PRIVATE_VERSION, PUBLIC_DEP: "2.0"}
    assert_no_confusion(public, mark, UV_TOOL)


def test_uv_pip_install_reads_the_same_table(index, uv_published, public, tmp_path):
    """`uv pip install` in a directory whose pyproject.toml holds uvIndex: the same indexes, same order."""
    env = uv_env(index, public, tmp_path / "home", READER)
    app = uv_project(index, tmp_path / "app", UV_TOOL)
    assert succeeded(run([str(BIN / "uv"), "venv", "-q", str(tmp_path / "venv")], env, cwd=app))
    mark = public.mark()
    python = tmp_path / "venv" / "bin" / "python"
    assert succeeded(run([str(BIN / "uv"), "pip", "install", "--python", str(python), UV_TOOL], env, cwd=app))
    assert installed(python, UV_TOOL, PUBLIC_DEP) == {UV_TOOL: PRIVATE_VERSION, PUBLIC_DEP: "2.0"}
    assert_no_confusion(public, mark, UV_TOOL)


def test_uv_takes_no_version_of_a_private_name_from_pypi(index, uv_published, public, tmp_path):
    """first-index: a name found here is resolved from here only; the unsafe strategy takes the bait."""
    env = uv_env(index, public, tmp_path / "home", READER)
    mark = public.mark()
    missing = run([str(BIN / "uv"), "lock"], env, cwd=uv_project(index, tmp_path / "missing", f"{UV_TOOL}>=2"))
    assert missing.returncode != 0 and "unsatisfiable" in missing.stderr, missing.stderr[-2000:]
    assert not asked_for(public.since(mark), UV_TOOL)
    unsafe = uv_project(index, tmp_path / "unsafe", UV_TOOL)
    assert succeeded(run([str(BIN / "uv"), "lock", "--index-strategy", "unsafe-best-match"], env, cwd=unsafe))
    versions = {p["name"]: p["version"] for p in tomllib.loads((unsafe / "uv.lock").read_text())["package"]}
    assert versions[UV_TOOL] == BAIT_VERSION, "the unsafe baseline takes the bait: the bait works"


def test_uv_stops_at_a_refused_password_rather_than_asking_pypi(index, uv_published, public, tmp_path):
    """A 401 from this index ends the resolution: uv does not go on to the next index for the name."""
    env = uv_env(index, public, tmp_path / "home", READER)
    env["UV_INDEX_PRIVATE_PASSWORD"] = "wrong-password-123"
    mark = public.mark()
    result = run([str(BIN / "uv"), "lock"], env, cwd=uv_project(index, tmp_path / "app", UV_TOOL))
    assert result.returncode != 0 and "401" in result.stderr, result.stderr[-2000:]
    assert not asked_for(public.since(mark), UV_TOOL)


# --- poetry publishes and installs (this source primary, PyPI, here the stand-in, supplemental) ---


def poetry_env(home: Path, user: str) -> dict[str, str]:
    """Credentials as poetrySource says; the project's environment in .venv, on this Python."""
    return user_env(
        home,
        POETRY_HTTP_BASIC_PRIVATE_USERNAME=user,
        POETRY_HTTP_BASIC_PRIVATE_PASSWORD=PASSWORDS[user],
        POETRY_NO_INTERACTION="1",
        POETRY_VIRTUALENVS_IN_PROJECT="true",
        POETRY_VIRTUALENVS_USE_POETRY_PYTHON="true",
    )


def poetry_project(stack: Stack, public: PublicIndex, directory: Path, requirement: str, pin: bool = True) -> Path:
    """A project that depends on `requirement`, with poetrySource (PyPI's table pointed at the stand-in)
    and, as poetrySource advises, the private name pinned to the private source."""
    directory.mkdir(parents=True)
    pypi = 'name = "PyPI"\npriority = "supplemental"\n'
    sources = stack.output("poetrySource")
    assert pypi in sources
    sources = sources.replace(pypi, f'name = "public"\nurl = "{public.simple_url}"\npriority = "supplemental"\n')
    text = app_project(requirement) + "[tool.poetry]\npackage-mode = false\n\n"
    if pin:
        text += f'[tool.poetry.dependencies]\n{POETRY_TOOL} = {{ source = "private" }}\n\n'
    (directory / "pyproject.toml").write_text(text + sources)
    return directory


@pytest.fixture(scope="module")
def poetry_home(index, tmp_path_factory) -> Path:
    """A user's home after the `poetry config` commands poetrySource lists (run as it prints them)."""
    home = tmp_path_factory.mktemp("poetry") / "home"
    lines = index.output("poetrySource").splitlines()
    commands = [line[1:].strip() for line in lines if line.startswith("#   poetry config ")]
    assert len(commands) == 2, commands
    for command in commands:
        assert succeeded(run([str(BIN / "poetry"), *shlex.split(command)[1:]], poetry_env(home, UPLOADER)))
    return home


@pytest.fixture(scope="module")
def poetry_published(index, poetry_home, tmp_path_factory) -> tuple[str, subprocess.CompletedProcess]:
    """`poetry publish --build --repository private` of a poetry project that depends on the public package."""
    project = tmp_path_factory.mktemp("poetry-project")
    (project / "pyproject.toml").write_text(
        f'[project]\nname = "{POETRY_TOOL}"\nversion = "{PRIVATE_VERSION}"\nrequires-python = ">=3.11"\n'
        f'dependencies = ["{PUBLIC_DEP}>=1"]\n\n'
        '[build-system]\nrequires = ["poetry-core>=2.0"]\nbuild-backend = "poetry.core.masonry.api"\n'
    )
    (project / "poetry_team_tool").mkdir()
    (project / "poetry_team_tool" / "__init__.py").write_text(f'VERSION = "{PRIVATE_VERSION}"\n')
    command = [str(BIN / "poetry"), "publish", "--build", "--repository", "private"]
    result = run(command, poetry_env(poetry_home, UPLOADER), project)
    return f"poetry_team_tool-{PRIVATE_VERSION}-py3-none-any.whl", result


def poetry_lock_sources(app: Path) -> dict[str, tuple[str, str]]:
    """name -> (version, source name) from poetry.lock."""
    packages = tomllib.loads((app / "poetry.lock").read_text())["package"]
    return {p["name"]: (p["version"], p["source"]["reference"]) for p in packages}


def test_poetry_publishes_and_installs_public_dependencies_from_the_supplemental_source(
    index, poetry_home, poetry_published, public, tmp_path
):
    filename, upload = poetry_published
    assert succeeded(upload) and index.listed(POETRY_TOOL, filename)
    mark = public.mark()
    env = poetry_env(poetry_home, READER)
    app = poetry_project(index, public, tmp_path / "app", POETRY_TOOL)
    assert succeeded(run([str(BIN / "poetry"), "lock"], env, cwd=app))
    assert poetry_lock_sources(app) == {POETRY_TOOL: (PRIVATE_VERSION, "private"), PUBLIC_DEP: ("2.0", "public")}
    assert succeeded(run([str(BIN / "poetry"), "install"], env, cwd=app))
    python = app / ".venv" / "bin" / "python"
    assert installed(python, POETRY_TOOL, PUBLIC_DEP) == {POETRY_TOOL: PRIVATE_VERSION, PUBLIC_DEP: "2.0"}
    assert_no_confusion(public, mark, POETRY_TOOL)


@pytest.mark.parametrize("pin", [True, False], ids=["pinned", "unsafe-baseline-unpinned"])
def test_poetry_takes_a_version_missing_here_from_pypi_unless_pinned(
    index, poetry_home, poetry_published, public, tmp_path, pin
):
    """Supplemental means "when the primary has no compatible version", not "when it lacks the name":
    unpinned, a version the index lacks is taken from PyPI. Hence the pin poetrySource asks for."""
    assert succeeded(poetry_published[1])
    mark = public.mark()
    app = poetry_project(index, public, tmp_path / "app", f"{POETRY_TOOL}>=2", pin=pin)
    result = run([str(BIN / "poetry"), "lock"], poetry_env(poetry_home, READER), cwd=app)
    if pin:
        assert result.returncode != 0 and "version solving failed" in result.stdout + result.stderr, result
        assert not asked_for(public.since(mark), POETRY_TOOL)
    else:
        assert succeeded(result), "the unsafe baseline takes the bait: the bait works"
        assert poetry_lock_sources(app)[POETRY_TOOL] == (BAIT_VERSION, "public")


def test_the_fallback_redirect_is_given_only_after_the_credentials(fallback_index):
    page = f"{fallback_index.url}/simple/not-here-at-all/"
    anonymous = http_get(page, ca=fallback_index.ca, follow_redirects=False)
    assert anonymous.status == 401, "an unknown name's redirect is a listing answer: it needs the list credentials"
    reader = http_get(page, "alice", PASSWORDS["alice"], ca=fallback_index.ca, follow_redirects=False)
    assert reader.status == 302 and reader.headers["Location"].endswith("/not-here-at-all/"), reader
