"""The facts the policy pack recognises the program by, imported from the modules that own them, so the
program and its pack cannot drift apart: a renamed timer or label changes both.

The pack runs in its own environment (policy/venv: pulumi and pulumi-policy, not the providers' SDKs,
and a path file that puts the repository root on its path: Makefile, `policy/venv`). Only modules that import
nothing beyond the standard library are reached from here (tests/policy/test_pack.py imports the
pack with the providers' SDKs made unimportable).
"""

from __future__ import annotations

from components.config_reading import DIGEST, RELEASE_NUMBER, image_key
from components.front import settings as front
from components.in_container.project_access import ACCESS_FILE
from components.pypiserver import settings as pypiserver
from components.settings import CONTAINER_NAME
from components.settings.access import ACTIONS
from components.store import backup_settings as backup
from components.store.backup_scripts import ENABLE_TIMER
from components.store.labels import PACKAGES_ROLE, ROLE_LABEL
from components.store.settings import PACKAGES_VOLUME

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
