"""pypi-index: a private Python package index (pypiserver in Docker) on a host of your own."""

import time

import pulumi

from components import settings
from components.front.caddyfile import render_caddyfile
from components.host import target as host
from components.package_index import PackageIndex, PackageIndexArgs
from components.pypiserver.htpasswd import hash_users, render_htpasswd
from components.pypiserver.salt_key import declare_salt_key
from components.settings.expiry import expiry_warnings
from components.store.backup_scripts import schedule_check

config = settings.load()
# A credential about to stop working: said at every preview, while there is time to renew it.
for warning in expiry_warnings(config.access.expires, time.time()):
    pulumi.log.warn(warning)
backup = config.store.backup
target = host.connect(
    config.host, config.stack, config.front.address, [schedule_check(backup.schedule)] if backup else []
)

# Hashing happens inside the secrets: everything derived from the passwords and the salt key stays secret.
context = f"{pulumi.get_project()}/{config.stack}"
access = config.access
# A stack without users has nothing to hash, and no key.
salt_key = declare_salt_key() if access.users else pulumi.Output.secret("")
hashes = pulumi.Output.all(pulumi.Output.secret(access.users), salt_key).apply(
    lambda values: hash_users(values[0], values[1], context, access.bcrypt_rounds)
)
# pypiserver checks uploads itself, so its file names only the users who may upload.
htpasswd = hashes.apply(lambda h: render_htpasswd({u: h[u] for u in access.uploaders})) if access.authenticate else None
caddyfile = hashes.apply(lambda h: render_caddyfile(config.front, access, config.pypiserver.fallback_url, h))

index = PackageIndex(
    "pypi",
    PackageIndexArgs(settings=config, target=target, htpasswd=htpasswd, caddyfile=caddyfile),
    pulumi.ResourceOptions(providers=[target.docker]),
)

pulumi.export("indexUrl", index.index_url)
pulumi.export("uploadUrl", index.upload_url)
pulumi.export("pipConf", index.pip_conf)
pulumi.export("pypirc", index.pypirc)
pulumi.export("uvIndex", index.uv_index)
pulumi.export("poetrySource", index.poetry_source)
pulumi.export("caCertificate", index.ca_certificate)
pulumi.export("containerName", index.container_name)
pulumi.export("packagesVolume", index.packages_volume)
pulumi.export("diskFree", index.disk_free)
