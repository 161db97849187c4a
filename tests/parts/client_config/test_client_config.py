"""What users copy into pip, twine, uv and poetry: valid for each tool, never holding a password."""

from __future__ import annotations

import configparser
import tomllib

from components import client_config


def test_pip_conf_is_valid_ini_without_credentials():
    parser = configparser.ConfigParser()
    parser.read_string(client_config.render_pip_conf("https://pypi.example.com:8443", private_ca=True))
    assert parser["global"]["index-url"] == "https://pypi.example.com:8443/simple/"
    assert parser["global"]["cert"] == client_config.CA_BUNDLE, "the system bundle: public roots and the CA"
    assert "trusted-host" not in parser["global"], "HTTPS needs no trusted-host"
    public = configparser.ConfigParser()
    public.read_string(client_config.render_pip_conf("https://pypi.example.com", private_ca=False))
    assert "cert" not in public["global"], "an ACME or supplied certificate is trusted as it is"


def test_pypirc_and_uv_index_parse():
    parser = configparser.ConfigParser()
    parser.read_string(client_config.render_pypirc("https://pypi.example.com", private_ca=True))
    assert parser["distutils"]["index-servers"].split() == ["private"]
    assert parser["private"]["repository"] == "https://pypi.example.com/"
    assert parser["private"]["ca_cert"] == client_config.CA_BUNDLE
    assert "password" not in parser["private"]
    uv = tomllib.loads(client_config.render_uv_index("https://pypi.example.com", private_ca=True))
    assert uv["tool"]["uv"]["index"] == [
        {"name": "private", "url": "https://pypi.example.com/simple/", "publish-url": "https://pypi.example.com/"}
    ]
    assert "index-strategy" not in uv["tool"]["uv"], "uv's default first-index keeps private names off PyPI"
    assert f"SSL_CERT_FILE={client_config.CA_BUNDLE}" in client_config.render_uv_index("https://x", private_ca=True)
    assert "SSL_CERT_FILE" not in client_config.render_uv_index("https://x", private_ca=False)


def test_poetry_source_parses_primary_then_pypi_supplemental_with_its_config_commands():
    text = client_config.render_poetry_source("https://pypi.example.com", private_ca=True)
    assert tomllib.loads(text)["tool"]["poetry"]["source"] == [
        {"name": "private", "url": "https://pypi.example.com/simple/", "priority": "primary"},
        {"name": "PyPI", "priority": "supplemental"},
    ]
    commands = [line.split("#", 1)[1].strip() for line in text.splitlines() if line.startswith("#   poetry config")]
    assert commands == [
        "poetry config repositories.private https://pypi.example.com/",
        f"poetry config certificates.private.cert {client_config.CA_BUNDLE}",
    ]
    assert '#   team-tool = { source = "private" }' in text, "the pin that keeps a private name off PyPI"
    public = client_config.render_poetry_source("https://pypi.example.com", private_ca=False)
    assert "certificates" not in public and "repositories.private" in public
    assert "password" not in text.lower().replace("_password", "")
