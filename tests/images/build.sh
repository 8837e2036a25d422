#!/bin/sh
# Builds the tiny training image of the Docker tests and the container
# example from Debian packages only, and imports it into a Docker engine:
#
#   tests/images/build.sh SOCKET [NAME:TAG [PROGRAM]]
#
# (default openhpo-test:1 and tests/images/train.sh). The root filesystem is
# busybox-static (its applets as symlinks) plus /usr/local/bin/train (PROGRAM), imported with `docker import`
# so no registry is needed. `train` is found on the image's PATH: the
# container runs as SageMaker runs it, `docker run IMAGE train`.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
sock=$1
tag=${2:-openhpo-test:1}
prog=${3:-$here/train.sh}
bb=/bin/busybox
if ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q "install ok installed" ||
    ! "$bb" --list >/dev/null 2>&1; then
    echo "build.sh: busybox-static is not installed (scripts/deps installs it)" >&2
    exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root/bin" "$root/usr/local/bin" "$root/etc" "$root/tmp" "$root/opt/ml"
cp "$bb" "$root/bin/busybox"
for a in $("$bb" --list); do
    [ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"
done
install -m 0755 "$prog" "$root/usr/local/bin/train"
echo "root:x:0:0:root:/root:/bin/sh" > "$root/etc/passwd"
echo "root:x:0:" > "$root/etc/group"
tar -C "$root" -cf "$work/rootfs.tar" .
docker=${DOCKER:-/usr/bin/docker}
if command -v "$docker" >/dev/null 2>&1; then
    "$docker" -H "unix://$sock" import --change 'ENV PATH=/usr/local/bin:/bin' \
        --change 'WORKDIR /opt/ml' "$work/rootfs.tar" "$tag" >/dev/null
else
    # No CLI: the Engine API's image import (POST /images/create?fromSrc=-).
    curl -sf --unix-socket "$sock" -X POST -H 'Content-Type: application/x-tar' \
        --data-binary "@$work/rootfs.tar" \
        "http://docker/images/create?fromSrc=-&repo=${tag%:*}&tag=${tag##*:}&changes=ENV%20PATH%3D%2Fusr%2Flocal%2Fbin%3A%2Fbin" >/dev/null
fi
echo "$tag"
