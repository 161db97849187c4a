"""pypi-index: a private Python package index (pypiserver in Docker) on a host of your own."""

import pulumi

from components import host, settings
from components.htpasswd import render_htpasswd
from components.package_index import PackageIndex, PackageIndexArgs

config = settings.load()
target = host.connect(config)

htpasswd = None
if config.authenticate:
    # Hashing happens inside the secret: the file inherits the secret marking of the passwords.
    context = f"{pulumi.get_project()}/{config.stack}"
    htpasswd = pulumi.Output.secret(config.users).apply(
        lambda users: render_htpasswd(users, context, config.bcrypt_rounds)
    )

index = PackageIndex(
    "pypi",
    PackageIndexArgs(settings=config, target=target, htpasswd=htpasswd),
    pulumi.ResourceOptions(providers=[target.docker]),
)

pulumi.export("indexUrl", index.index_url)
pulumi.export("uploadUrl", index.upload_url)
pulumi.export("pipConf", index.pip_conf)
pulumi.export("pypirc", index.pypirc)
pulumi.export("uvIndex", index.uv_index)
pulumi.export("containerName", index.container_name)
pulumi.export("packagesVolume", index.packages_volume)
