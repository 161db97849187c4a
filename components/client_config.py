"""What users copy into their tools: pip.conf, .pypirc and uv's index table. None holds a password.

Credentials come from the tools' own stores: ~/.netrc or keyring for pip, TWINE_PASSWORD or keyring
for twine, UV_INDEX_<NAME>_USERNAME/PASSWORD for uv.
"""

from __future__ import annotations

from urllib.parse import urlsplit

INDEX_NAME = "private"


def index_url(public_url: str) -> str:
    return f"{public_url}/simple/"


def upload_url(public_url: str) -> str:
    return f"{public_url}/"


def _host(public_url: str) -> str:
    return urlsplit(public_url).hostname or ""


def render_pip_conf(public_url: str) -> str:
    """pip.conf; plain HTTP needs `trusted-host`, HTTPS does not."""
    lines = ["[global]", f"index-url = {index_url(public_url)}"]
    if urlsplit(public_url).scheme == "http":
        lines.append(f"trusted-host = {_host(public_url)}")
    return "\n".join(lines) + "\n"


def render_pypirc(public_url: str) -> str:
    """~/.pypirc for `twine upload -r private`; credentials stay in TWINE_USERNAME/TWINE_PASSWORD or keyring."""
    lines = [
        "[distutils]",
        f"index-servers = {INDEX_NAME}",
        "",
        f"[{INDEX_NAME}]",
        f"repository = {upload_url(public_url)}",
    ]
    return "\n".join(lines) + "\n"


def render_uv_index(public_url: str) -> str:
    """pyproject.toml's `[[tool.uv.index]]` for `uv pip install` and `uv publish --index private`."""
    return (
        "[[tool.uv.index]]\n"
        f'name = "{INDEX_NAME}"\n'
        f'url = "{index_url(public_url)}"\n'
        f'publish-url = "{upload_url(public_url)}"\n'
    )
