"""What users copy into their tools: pip.conf, .pypirc and uv's index table. None holds a password.

Credentials come from the tools' own stores: ~/.netrc or keyring for pip, TWINE_USERNAME/TWINE_PASSWORD
or keyring for twine, UV_INDEX_PRIVATE_USERNAME/_PASSWORD for uv. With `tls: internal` clients trust
the front server's own CA: save `pulumi stack output caCertificate` as CA_PATH (which also makes it a
system CA after `update-ca-certificates`).
"""

from __future__ import annotations

INDEX_NAME = "private"
CA_PATH = "/usr/local/share/ca-certificates/pypi-index-ca.crt"


def index_url(public_url: str) -> str:
    return f"{public_url}/simple/"


def upload_url(public_url: str) -> str:
    return f"{public_url}/"


def render_pip_conf(public_url: str, private_ca: bool) -> str:
    """pip.conf: HTTPS only, so no `trusted-host`; `cert` names the index's CA when it has its own."""
    lines = ["[global]", f"index-url = {index_url(public_url)}"]
    if private_ca:
        lines.append(f"cert = {CA_PATH}")
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
        lines.append(f"ca_cert = {CA_PATH}")
    return "\n".join(lines) + "\n"


def render_uv_index(public_url: str, private_ca: bool) -> str:
    """pyproject.toml's `[[tool.uv.index]]` for `uv pip install` and `uv publish --index private`."""
    text = (
        "[[tool.uv.index]]\n"
        f'name = "{INDEX_NAME}"\n'
        f'url = "{index_url(public_url)}"\n'
        f'publish-url = "{upload_url(public_url)}"\n'
    )
    if private_ca:
        text = f"# uv trusts the index's CA through SSL_CERT_FILE={CA_PATH} (or --native-tls)\n" + text
    return text
