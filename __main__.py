"""pypi-index: a private Python package index (pypiserver in Docker) on a host of your own."""

import pulumi

from components import settings
from components.host import target as host
from components.package_index import OUTPUTS, PackageIndex, preflight_checks

config = settings.load()
index = PackageIndex("pypi", config, host.connect(config.host, config.stack, preflight_checks(config)))

for name, export in OUTPUTS.items():
    pulumi.export(export, getattr(index, name))
