"""The pypi-index program, one package per part of the deployment (store, pypiserver, front, indexer,
supervision, host), with what they share beside them: settings/ (every key, checked), scope.py (names,
parent, provider), volume_files.py (writing into volumes), client_config.py (what users copy), and
in_container/ (the programs that run inside the containers)."""
