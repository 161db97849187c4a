"""What users copy into their tools: pip.conf, .pypirc, uv's index table and poetry's sources. None holds
a password.

Credentials come from the tools' own stores: ~/.netrc or keyring for pip, TWINE_USERNAME/TWINE_PASSWORD
or keyring for twine, UV_INDEX_PRIVATE_USERNAME/_PASSWORD for uv, POETRY_HTTP_BASIC_PRIVATE_USERNAME/
_PASSWORD for poetry.

Public packages without dependency confusion (a public project named like a private one, at a higher
version): a name this index has is never looked up anywhere else. pip gets public packages only through
the index's `fallbackUrl` (never `extra-index-url`, which merges indexes); uv keeps PyPI as its default
index after this one, with its default `first-index` strategy; poetry makes this source primary, PyPI
supplemental, and pins each private dependency to this source. tests/test_client_journeys.py runs each.

With `tls: internal` clients trust the front server's own CA. Saved as CA_PATH, `update-ca-certificates`
adds it to the system's bundle CA_BUNDLE beside the public roots, and every output names that bundle: a
file holding the index's CA alone would replace the public roots for uv (SSL_CERT_FILE), for poetry and
twine (requests, through redirects too) and for pip before 24.2, so PyPI would then fail.
"""

from __future__ import annotations

INDEX_NAME = "private"
CA_PATH = "/usr/local/share/ca-certificates/pypi-index-ca.crt"
# Debian and Ubuntu's bundle, rebuilt by update-ca-certificates from the public roots and CA_PATH.
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def index_url(public_url: str) -> str:
    return f"{public_url}/simple/"


def upload_url(public_url: str) -> str:
    return f"{public_url}/"


def render_pip_conf(public_url: str, private_ca: bool) -> str:
    """~/.config/pip/pip.conf: this index only, HTTPS (no `trusted-host`); `cert` names the system bundle
    that holds the index's CA when it has its own."""
    lines = [
        "# pip: this index only. Public packages come through the index's fallbackUrl, if it has one:",
        "# a name the index has is never looked up elsewhere. Never add extra-index-url: pip merges the",
        "# indexes and takes the highest version from any of them (dependency confusion).",
        "[global]",
        f"index-url = {index_url(public_url)}",
    ]
    if private_ca:
        lines.append(f"cert = {CA_BUNDLE}")
    return "\n".join(lines) + "\n"


def render_pypirc(public_url: str, private_ca: bool) -> str:
    """~/.pypirc for `twine upload -r private`."""
    lines = [
        "[distutils]",
        f"index-servers = {INDEX_NAME}",
        "",
        f"[{INDEX_NAME}]",
        f"repository = {upload_url(public_url)}",
    ]
    if private_ca:
        lines.append(f"ca_cert = {CA_BUNDLE}")
    return "\n".join(lines) + "\n"


def render_uv_index(public_url: str, private_ca: bool) -> str:
    """pyproject.toml's `[[tool.uv.index]]`, for `uv lock`/`uv sync`, `uv pip install` (which read it from
    the current directory) and `uv publish --index private`."""
    lines = [
        "# uv: pyproject.toml. uv asks this index before its default one (PyPI), and its default",
        "# index-strategy (first-index) takes each name only from the first index that has it: a private",
        '# name never comes from PyPI. Never set index-strategy = "unsafe-best-match".',
        "# Credentials: UV_INDEX_PRIVATE_USERNAME, UV_INDEX_PRIVATE_PASSWORD. Upload: uv publish --index private",
    ]
    if private_ca:
        lines.append(f"# TLS: SSL_CERT_FILE={CA_BUNDLE} (it replaces uv's own roots: never the index's CA alone)")
    lines += [
        "[[tool.uv.index]]",
        f'name = "{INDEX_NAME}"',
        f'url = "{index_url(public_url)}"',
        f'publish-url = "{upload_url(public_url)}"',
    ]
    return "\n".join(lines) + "\n"


def render_poetry_source(public_url: str, private_ca: bool) -> str:
    """pyproject.toml's `[[tool.poetry.source]]` tables, and in comments the `poetry config` commands
    that publishing and TLS need (poetry keeps those out of pyproject.toml)."""
    lines = [
        "# poetry: pyproject.toml. This index is primary, PyPI supplemental: PyPI is asked only for what",
        "# this index cannot supply. Pin each private dependency to this source too, or a version missing",
        "# here (team-tool>=2 before 2.0 is published) is taken from PyPI (dependency confusion):",
        "#   [tool.poetry.dependencies]",
        f'#   team-tool = {{ source = "{INDEX_NAME}" }}',
        "# Once per machine; credentials: POETRY_HTTP_BASIC_PRIVATE_USERNAME, POETRY_HTTP_BASIC_PRIVATE_PASSWORD",
        f"#   poetry config repositories.{INDEX_NAME} {upload_url(public_url)}",
    ]
    if private_ca:
        lines.append(f"#   poetry config certificates.{INDEX_NAME}.cert {CA_BUNDLE}")
    lines += [
        f"# Upload: poetry publish --build --repository {INDEX_NAME}",
        "[[tool.poetry.source]]",
        f'name = "{INDEX_NAME}"',
        f'url = "{index_url(public_url)}"',
        'priority = "primary"',
        "",
        "[[tool.poetry.source]]",
        'name = "PyPI"',
        'priority = "supplemental"',
    ]
    return "\n".join(lines) + "\n"
