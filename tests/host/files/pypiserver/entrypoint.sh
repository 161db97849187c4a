#!/bin/sh
# Entrypoint of the pypiserver stand-in image (written for these tests). Behaviour, as in the
# official image:
#   - started as root: make /data readable and /data/packages writable for user pypiserver (uid 9898),
#     chowning only when they are not, then drop to that user with gosu;
#   - started as another user (docker run --user): run as that user, change nothing;
#   - no arguments: `pypi-server run -p $PYPISERVER_PORT --server gunicorn`;
#     arguments: `pypi-server "$@"` (so the first argument is the subcommand, e.g. `run`).
# gosu needs no setuid bit when started by root, so this also works under no-new-privileges.
set -eu

port="${PYPISERVER_PORT:-${PORT:-8080}}"

if [ "$(id -u)" -eq 0 ]; then
    # `test` as the service user answers "could pypiserver use this?" including group/other bits.
    can() { gosu pypiserver test "$@"; }

    if ! can -r /data -a -x /data; then
        echo "entrypoint: /data is not readable by pypiserver (9898); chowning it" >&2
        chown -R pypiserver:pypiserver /data || true
    fi
    if [ ! -d /data/packages ]; then
        mkdir -p /data/packages
        chown pypiserver:pypiserver /data/packages
    fi
    if ! can -r /data/packages -a -w /data/packages -a -x /data/packages; then
        chown -R pypiserver:pypiserver /data/packages || true
    fi
    if ! can -r /data/packages -a -w /data/packages -a -x /data/packages; then
        echo "entrypoint: cannot start: user pypiserver (uid 9898, gid 9898) needs read/write/execute" \
             "access to /data/packages (see pypiserver issue #256)" >&2
        exit 1
    fi
    run_as() { exec gosu pypiserver "$@"; }
else
    run_as() { exec "$@"; }
fi

if [ "$#" -eq 0 ]; then
    run_as pypi-server run -p "$port" --server gunicorn
fi
run_as pypi-server "$@"
