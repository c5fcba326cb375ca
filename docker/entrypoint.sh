#!/bin/sh
# mockgun's entrypoint: `docker run IMAGE` serves; `docker run IMAGE handshakes ...`,
# `... healthcheck`, `... certs` run those commands of `mockgun`.
#
# Started as root (the default), it first makes the mounted folders usable by the unprivileged
# user mockgun (uid 10001), whoever created them on the host (a plain `mkdir`, or Docker itself
# from a compose `volumes:` line, owned by root), then drops to that user: the established
# pattern of official images. A folder it cannot take over (a read-only mount) is left as it is;
# mockgun then names it, with its owner and mode, if it needs to write there. Started with
# `--user`, it changes nothing and runs mockgun as that user.
set -eu

if [ "$(id -u)" = "0" ]; then
    for dir in /certs /logs /data; do
        if [ -d "$dir" ] && [ "$(stat -c %u "$dir")" != "10001" ]; then
            chown -R 10001:10001 "$dir" 2>/dev/null || true
        fi
    done
    exec setpriv --reuid=10001 --regid=10001 --init-groups --inh-caps=-all mockgun "$@"
fi
exec mockgun "$@"
