"""pypiserver's own image tests, run against our stand-in of the official image.

The tests are `docker/test_docker.py` from the sdist of the release the stand-in stands for, run
whole, in the sdist's own tree (their fixtures build packages with its Makefile), by pytest in a
virtualenv of their own. One thing differs (official_image_plugin.py): their `image` fixture builds
`FROM` the stand-in (plus a label that marks this run's containers) instead of from the upstream
Dockerfile, which needs Docker Hub and GitHub.
A stand-in that does not pass them is not a stand-in: every official test must run and pass here.

They run as an unprivileged user, as upstream's CI runs them: their permission tests start the image
`--user <the caller's uid>` and expect the entrypoint to refuse; as root, the entrypoint would chown
its way past the check and the container would serve forever ("we can't run this one as root",
test_needs_rx_on_data).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from . import pypiserver_release
from .commands import figure, run
from .images import PYPISERVER_VERSIONS, Images, cache_dir
from .official_image_plugin import DOCKERFILE_VARIABLE

# What the official tests import or run (pip, twine, python setup.py via `make`), pinned. pypiserver
# itself is there because test_version compares the image's `--version` with `pypiserver.__version__`.
TEST_TOOLS = ("pytest==9.2.0", "httpx==0.28.1", "twine==7.0.0", "pip==26.3", *pypiserver_release.BUILD_TOOLS)
# Official tests that cannot run here, with why. Empty: all of them run.
NOT_RUNNABLE: dict[str, str] = {}
# The unprivileged user they run as (no account needed: setpriv sets the ids): the uid of GitHub's
# runner user, which upstream's CI runs them as, in the group that may use the Docker socket.
TEST_UID = 1001
DOCKER_SOCKET = Path("/var/run/docker.sock")
# The distribution's Python (python3-venv), which TEST_UID may run: this process's may live in a
# private home (pyenv under /root).
SYSTEM_PYTHON = "/usr/bin/python3"


def _wheelhouse(version: str) -> Path:
    """The official tests' tools as wheels, downloaded once into the cache (by this process)."""
    pins = [f"pypiserver=={version}", *TEST_TOOLS]
    key = hashlib.sha256("\n".join(pins).encode()).hexdigest()[:16]
    folder = cache_dir() / "official-image-tests" / f"{version}-{key}"
    done = folder / ".complete"
    if not done.exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        run(
            [SYSTEM_PYTHON, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--dest", str(folder), *pins],
            timeout=900,
        )
        (folder / "pins.txt").write_text("\n".join(pins) + "\n")
        done.touch()
    return folder


def _venv(version: str, work: Path) -> Path:
    """A virtualenv of the system Python in `work`, installed offline from the wheelhouse. It lives in
    the test's own folder, not in the checkout, whose parents TEST_UID may not be able to enter."""
    wheels = _wheelhouse(version)
    venv = work / "venv"
    run([SYSTEM_PYTHON, "-m", "venv", str(venv)])
    run(
        [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "--no-index",
         "--find-links", str(wheels), "--requirement", str(wheels / "pins.txt")],
        timeout=900,
    )  # fmt: skip
    return venv


def _give(path: Path) -> None:
    """Make `path` (recursively) the test user's."""
    run(["chown", "-R", f"{TEST_UID}:{TEST_UID}", str(path)])


def _as_test_user(command: list[str]) -> list[str]:
    """`command` as TEST_UID, in the group that owns the Docker socket (docker.io's `docker`)."""
    group = DOCKER_SOCKET.stat().st_gid
    return ["setpriv", f"--reuid={TEST_UID}", f"--regid={TEST_UID}", f"--groups={group}", "--", *command]


def _environment(venv: Path, home: Path, dockerfile: Path, plugins: Path) -> dict[str, str]:
    """The official tests call `python`, `pip`, `make` and `docker` from PATH: the venv's first.
    This machine's pip settings (find-links, certificates) are left out: pip talks to the container."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(
        PATH=f"{venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}",
        HOME=str(home),
        DOCKER_BUILDKIT="0",  # the classic builder works with every engine here (buildx may be absent)
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",  # twine without a desktop keyring
        PYTHONPATH=str(plugins),  # official_image_plugin
        **{DOCKERFILE_VARIABLE: str(dockerfile)},
    )
    return env


def _results(junit: Path) -> dict[str, str]:
    """Test id -> passed, failed, error or skipped."""
    outcomes = {}
    for case in ET.parse(junit).getroot().iter("testcase"):  # noqa: S314 (pytest wrote it, in our tmp dir)
        name = f"{case.get('classname')}::{case.get('name')}"
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        outcomes[name] = (
            {"failure": "failed", "error": "error", "skipped": "skipped"}.get(kinds[0], "") if kinds else "passed"
        )
    return outcomes


def test_the_official_image_tests_pass_on_the_stand_in(host_images: Images) -> None:
    # Not pytest's tmp_path: its root folder is private to root, and the tests run as TEST_UID.
    with tempfile.TemporaryDirectory(prefix="pypiserver-official-tests-") as work:
        _run_official_tests(host_images, Path(work))


def _run_official_tests(host_images: Images, tmp_path: Path) -> None:
    tag = host_images.pypiserver.rsplit(":", 1)[1]
    version = PYPISERVER_VERSIONS[tag]
    tree = pypiserver_release.copy_tree(version, tmp_path / "sdist")
    dockerfile = tmp_path / "stand-in.Dockerfile"
    # The label marks every container the official tests start (containers inherit their image's
    # labels), so the clean-up below touches those and nothing else: the stand-in's own image ID would
    # also match an index this machine runs from it.
    run_label = f"pypi-index.official-image-tests={tmp_path.name}"
    dockerfile.write_text(f"FROM {host_images.pypiserver}\nLABEL {run_label}\n")
    (tmp_path / "home").mkdir()
    venv = _venv(version, tmp_path)
    # The plugin too: TEST_UID reads it from the test's folder, like everything else it runs.
    shutil.copy(Path(__file__).with_name("official_image_plugin.py"), tmp_path / "official_image_plugin.py")
    _give(tmp_path)
    junit = tmp_path / "junit.xml"
    command = [
        str(venv / "bin" / "python"), "-m", "pytest", "-p", "official_image_plugin", "-p", "no:cacheprovider",
        f"--junitxml={junit}", "-o", "junit_family=xunit1", "-q", "docker/test_docker.py",
    ]  # fmt: skip
    # An index this machine runs from the same image must outlive the run and its clean-up.
    bystander = f"pypi-index-bystander-{tmp_path.name}"
    run(["docker", "run", "-d", "--name", bystander, "--network", "none", host_images.pypiserver,
         "run", "--passwords", ".", "--authenticate", "."])  # fmt: skip
    try:
        proc = subprocess.run(
            _as_test_user(command), cwd=tree, env=_environment(venv, tmp_path / "home", dockerfile, tmp_path),
            capture_output=True, text=True, timeout=1800,
        )  # fmt: skip
    finally:
        # Their containers are `--rm`, but a test that hangs (a server that should have refused to
        # start) leaves one running.
        left = run(["docker", "ps", "-aq", "--filter", f"label={run_label}"]).stdout.split()
        if left:
            run(["docker", "rm", "-f", *left], check=False)
        survived = run(["docker", "inspect", "--format", "{{.State.Running}}", bystander], check=False).stdout.strip()
        run(["docker", "rm", "-f", "-v", bystander], check=False)
    assert survived == "true", "the run or its clean-up stopped a container it did not start"
    outcomes = _results(junit) if junit.exists() else {}
    passed = sum(1 for outcome in outcomes.values() if outcome == "passed")
    figure(f"IMAGE pypiserver {tag} official tests {passed}/{len(outcomes)}, not runnable {len(NOT_RUNNABLE)}")
    not_passed = {name: outcome for name, outcome in outcomes.items() if outcome != "passed"}
    assert proc.returncode == 0 and outcomes and not not_passed, (
        f"pypiserver {version}'s own image tests on {host_images.pypiserver}: {not_passed or 'none collected'}\n"
        f"{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    )
