"""The benchmark's one extra image, built and cached exactly like the test stand-ins.

``pypi-bench/tools`` (tests/host/files/bench-tools/): nginx (configuration 4), wrk (the load client)
and apache2-utils (the recipe's ``htpasswd -c``), Debian packages on the registry-free Debian base.
The build, the cache key label and the ``docker save`` tar cache are tests/host/images.py's own
functions; only the key and the context are ours.
"""

from __future__ import annotations

from pathlib import Path

from tests.host.images import (
    BASE_IMAGE,
    FILES,
    Images,
    _dir_digest,
    _docker_build,
    _ensure,
    _key,
    _label,
    _locked,
    cache_dir,
    ensure_images,
)

TOOLS_IMAGE = "pypi-bench/tools:bookworm"
TOOLS_CONTEXT = FILES / "bench-tools"


def ensure_bench_images(cache: Path | None = None) -> tuple[Images, str]:
    """The test images (pypiserver stand-in, Debian base) and the tools image; cheap when cached."""
    images = ensure_images(cache)
    cache = Path(cache) if cache is not None else cache_dir()
    with _locked(cache):
        base_key = _label(BASE_IMAGE)  # ensure_images just made sure it carries its key
        key = _key("bench-tools", base_key, _dir_digest(TOOLS_CONTEXT))
        _ensure(TOOLS_IMAGE, key, lambda: _docker_build(TOOLS_IMAGE, key, TOOLS_CONTEXT), cache)
    return images, TOOLS_IMAGE
