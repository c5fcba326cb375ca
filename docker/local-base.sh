#!/usr/bin/env bash
# Make a minimal Debian image with python3 and venv, for building mockgun's image where no
# registry is reachable:  bash docker/local-base.sh [IMAGE]   (default mockgun-local-base:bookworm)
# Needs root, debootstrap and a running Docker engine; reuses the image if it already exists.
set -euo pipefail
image=${1:-mockgun-local-base:bookworm}
docker=${DOCKER:-$(command -v /usr/bin/docker || command -v docker)}
if "$docker" image inspect "$image" >/dev/null 2>&1; then
  echo "$image already exists"
  exit 0
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  bookworm "$root" http://deb.debian.org/debian >/dev/null
# What a container never needs: package lists, docs, man pages, locales.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/usr/share/doc/* \
  "$root"/usr/share/man/* "$root"/usr/share/locale/*
tar -C "$root" -c . | "$docker" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["python3"]' - "$image" >/dev/null
echo "built $image"
