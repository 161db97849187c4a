"""The package store and what survives every update: volumes, networks, backups and restore."""
