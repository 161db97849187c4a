"""The pypi-index program, one package per part of the deployment (store, pypiserver, front, indexer,
supervision, host), each with its section of the settings (<part>/settings.py), its resources and the
texts it sends to the host. Beside them, what they share: settings/ (the sections composed, every key,
who may log in), config_reading.py (the readers every section uses), scope.py (names, parent,
provider), volume_files.py (writing into volumes), client_config.py (what users copy), and
in_container/ (the programs that run inside the containers)."""
