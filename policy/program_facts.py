"""The facts the policy pack recognises the program by, imported from the modules that own them, so the
program and its pack cannot drift apart: a renamed timer or label changes both.

The pack runs in its own environment (policy/venv: pulumi and pulumi-policy, not the providers' SDKs),
from the policy folder; the repository root beside it holds the program. Only modules that import
nothing beyond the standard library are reached from here (tests/policy/test_pack.py imports the
pack with the providers' SDKs made unimportable).
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.append(_ROOT)

from components.config_reading import DIGEST, RELEASE_NUMBER, image_key  # noqa: E402
from components.front import settings as front  # noqa: E402
from components.in_container.project_access import ACCESS_FILE  # noqa: E402
from components.pypiserver import settings as pypiserver  # noqa: E402
from components.settings import CONTAINER_NAME  # noqa: E402
from components.settings.access import ACTIONS  # noqa: E402
from components.store import backup_settings as backup  # noqa: E402
from components.store.backup_scripts import ENABLE_TIMER  # noqa: E402
from components.store.labels import PACKAGES_ROLE, ROLE_LABEL  # noqa: E402
from components.store.settings import PACKAGES_VOLUME  # noqa: E402

# The program's images: each one's config-key prefix and default reference (whose tag is a release
# to suggest), pypiserver's last (its keys have no prefix). A release tag is either image's kind.
IMAGES = (
    (front.IMAGE_PREFIX, front.DEFAULT_IMAGE),
    (backup.IMAGE_PREFIX, backup.DEFAULT_IMAGE),
    (pypiserver.IMAGE_PREFIX, pypiserver.DEFAULT_IMAGE),
)
RELEASE_TAGS = (pypiserver.RELEASE_TAG, RELEASE_NUMBER)

__all__ = [
    "ACCESS_FILE",
    "ACTIONS",
    "CONTAINER_NAME",
    "DIGEST",
    "ENABLE_TIMER",
    "IMAGES",
    "PACKAGES_ROLE",
    "PACKAGES_VOLUME",
    "RELEASE_TAGS",
    "ROLE_LABEL",
    "image_key",
]
