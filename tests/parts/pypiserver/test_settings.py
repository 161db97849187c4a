"""pypiserver's section (pypiserver/settings.py): its image, server, memory and fallback. Every bad value is
refused naming the key."""

from __future__ import annotations

from tests.support.stack_values import refusals, remote

# (stack, config, key named in the error, a fragment of what is accepted)
BAD = [
    ("production", remote(server="gevent"), "server", "production runs gunicorn"),
    ("staging", remote(imageRepository="pypiserver:2"), "imageRepository", "such as pypiserver/pypiserver"),
    ("staging", remote(imageTag="latest"), "imageTag", "release tag"),
    ("staging", remote(imageTag="v2.4"), "imageTag", "release tag"),
    ("staging", remote(imageTag="unstable"), "imageTag", "release tag"),
    ("staging", remote(imageDigest="sha256:abc"), "imageDigest", "64 lowercase hex"),
    ("staging", remote(imageRepository="Not A Repo"), "imageRepository", "image repository"),
    ("staging", remote(server="tornado"), "server", "gunicorn, gevent, auto"),
    ("staging", remote(memoryMb="16"), "memoryMb", "from 64"),
    ("staging", remote(fallbackUrl="pypi.org"), "fallbackUrl", "http(s) URL"),
    ("staging", remote(fallbackUrl="https://pypi.org/{path}"), "fallbackUrl", "http(s) URL"),
    ("staging", remote(fallbackUrl='https://pypi.org/"x'), "fallbackUrl", "http(s) URL"),
]


test_bad_value_names_key_and_what_is_accepted = refusals(BAD)
