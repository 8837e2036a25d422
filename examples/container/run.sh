#!/bin/sh
# The container example, end to end: builds a tiny training image locally
# (busybox-static + train.sh, `docker import`: no registry, no Dockerfile),
# starts hpod with the Docker backend, puts the training data where the
# channel reads it, and tunes the image through boto3 (tune.py).
#
#   examples/container/run.sh [--socket SOCK] [--s3-endpoint URL]
#
# --socket: the Docker engine (default /var/run/docker.sock). Without a
#   running engine, run.sh starts its own dockerd (as the tests do) in a
#   temporary directory and stops it at the end (root needed).
# --s3-endpoint: an S3-compatible endpoint (e.g. s3rver): the data goes to
#   s3://openhpo-example/data/ there and the channel reads it from S3 (needs
#   openhpo's S3 channels, `hpod --s3-endpoint`); without it the channel is a
#   file:// directory.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
sock=/var/run/docker.sock
s3=""
while [ $# -gt 0 ]; do
    case "$1" in
    --socket) sock=$2; shift 2 ;;
    --s3-endpoint) s3=$2; shift 2 ;;
    *) echo "usage: $0 [--socket SOCK] [--s3-endpoint URL]" >&2; exit 2 ;;
    esac
done
work=$(mktemp -d /tmp/openhpo-container-example.XXXXXX)
dockerd_pid=""
hpod_pid=""
cleanup() {
    [ -n "$hpod_pid" ] && kill "$hpod_pid" 2>/dev/null || true
    if [ -n "$dockerd_pid" ]; then
        kill "$dockerd_pid" 2>/dev/null || true
        wait "$dockerd_pid" 2>/dev/null || true
        umount -R "$work/docker/data" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
if ! curl -sf --unix-socket "$sock" http://docker/_ping >/dev/null 2>&1; then
    echo "no Docker engine at $sock: starting one in $work/docker"
    mkdir -p "$work/docker"
    sock=$work/docker/docker.sock
    dockerd --data-root "$work/docker/data" --exec-root "$work/docker/exec" \
        --pidfile "$work/docker/pid" -H "unix://$sock" --iptables=false --bridge=none \
        >"$work/docker/log" 2>&1 &
    dockerd_pid=$!
    i=0
    until curl -sf --unix-socket "$sock" http://docker/_ping >/dev/null 2>&1; do
        i=$((i + 1)); [ $i -lt 300 ] || { tail "$work/docker/log"; exit 1; }; sleep 0.1
    done
fi
image=openhpo-example:1
sh "$top/tests/images/build.sh" "$sock" "$image" "$here/train.sh" >/dev/null
echo "built $image"
# y = 3x + 2 plus noise: the data the channel reads.
mkdir -p "$work/data" "$work/output"
awk 'BEGIN { srand(7); for (i = 0; i < 200; i++) { x = rand() * 4 - 2;
    printf "%.4f,%.4f\n", x, 3 * x + 2 + (rand() - 0.5) * 0.2 } }' >"$work/data/data.csv"
data=file://$work/data
hpod_s3=""
if [ -n "$s3" ]; then
    /usr/bin/python3 - "$s3" "$work/data/data.csv" <<'PY'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
try:
    s3.create_bucket(Bucket="openhpo-example")
except s3.exceptions.BucketAlreadyOwnedByYou:
    pass
s3.upload_file(sys.argv[2], "openhpo-example", "data/data.csv")
PY
    data=s3://openhpo-example/data/
    hpod_s3="--s3-endpoint $s3"
fi
# shellcheck disable=SC2086
"$top/build/hpod" --listen 127.0.0.1:0 --port-file "$work/port" --data-dir "$work/hpod" \
    --docker-socket "$sock" $hpod_s3 >"$work/hpod.log" 2>&1 &
hpod_pid=$!
i=0
until [ -s "$work/port" ]; do
    i=$((i + 1)); [ $i -lt 200 ] || { cat "$work/hpod.log"; exit 1; }; sleep 0.05
done
/usr/bin/python3 "$here/tune.py" "http://127.0.0.1:$(cat "$work/port")" "$image" "$data" \
    "file://$work/output"
echo "model.tar.gz files:"
find "$work/output" -name model.tar.gz | head -3
