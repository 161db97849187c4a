"""The `pypi-server run ...` arguments the container starts with."""

from __future__ import annotations

from .settings import PypiserverSettings

PORT = 8080
PACKAGES_DIR = "/data/packages"
# A folder of its own: pypiserver re-reads the file when its mtime changes, and a directory mount
# (unlike a single-file bind) lets a rename-into-place reach the running container.
AUTH_DIR = "/data/auth"
HTPASSWD = f"{AUTH_DIR}/.htpasswd"
# The programs that run in the containers (components/pypiserver/programs.py: gunicorn's configuration with
# the upload guard and audit, the indexer), in a volume of its own at a path the image does not have.
HOOKS_DIR = "/data/hooks"
# The uid/gid the official image runs pypiserver as (its entrypoint drops to it).
PYPISERVER_UID = 9898
HEALTH_PATH = "/health"
# pypiserver's name on the internal network, where the front server reaches it.
NETWORK_ALIAS = "pypiserver"


def run_args(settings: PypiserverSettings, authenticate: tuple[str, ...]) -> list[str]:
    """Arguments after the image's entrypoint, which passes them to `pypi-server` as given.

    The server is always named: as soon as arguments are given, the image's entrypoint no longer
    adds `--server gunicorn`, and pypiserver falls back to `auto`. `--server gunicorn` reads the
    image's /data/gunicorn.conf.py (gevent worker), as the image's own default does.
    """
    args = ["run", "--port", str(PORT), "--server", settings.server]
    if authenticate:
        args += ["--passwords", HTPASSWD, "--authenticate", ",".join(authenticate)]
    else:
        args += ["--passwords", ".", "--authenticate", "."]
    if settings.allow_overwrite:
        args.append("--overwrite")
    # Without this, a name missing here is redirected to pypi.org: a typo or a squatted name of an
    # internal package would install someone else's code.
    if settings.fallback_url:
        args += ["--fallback-url", settings.fallback_url]
    else:
        args.append("--disable-fallback")
    args += ["--health-endpoint", HEALTH_PATH, PACKAGES_DIR]
    return args


def run_env(settings: PypiserverSettings, gunicorn_config: str) -> list[str]:
    """The container's environment: gunicorn reads our configuration, the file at `gunicorn_config`
    (only gunicorn has the upload guard and audit)."""
    return [f"GUNICORN_CMD_ARGS=--config {gunicorn_config}"] if settings.server == "gunicorn" else []
