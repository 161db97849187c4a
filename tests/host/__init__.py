"""Test infrastructure: a throw-away "server" (systemd + sshd + Docker in a container) to deploy onto.

Modules:
- ``commands``: running external commands with readable errors; checking that a Docker engine answers.
- ``images``:   building/caching the local images (Debian base, host, pypiserver stand-ins).
- ``machine``:  ``TestHost``, one booted host reachable over SSH on loopback.

Nothing here does anything at import time.
"""
