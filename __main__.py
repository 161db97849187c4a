"""pypi-index: a private Python package index (pypiserver in Docker) on a host of your own."""

import time

import pulumi

from components import settings
from components.host import target as host
from components.package_index import OUTPUTS, PackageIndex, preflight_checks
from components.settings.expiry import expiry_warnings

config = settings.load()
# A credential about to stop working: said at every preview, while there is time to renew it.
for warning in expiry_warnings(config.access.expires, time.time()):
    pulumi.log.warn(warning)
index = PackageIndex("pypi", config, host.connect(config.host, config.stack, preflight_checks(config)))

for name, export in OUTPUTS.items():
    pulumi.export(export, getattr(index, name))
