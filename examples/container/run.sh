#!/bin/sh
# The container example, end to end: builds a tiny training image locally
# (busybox-static + train.sh, `docker import`: no registry, no Dockerfile),
# starts hpod with the Docker backend, puts the training data where the
# channel reads it, and tunes the image through boto3 (tune.py).
#
#   examples/container/run.sh [--socket SOCK] [--s3-endpoint URL | --file]
#
# --socket: the Docker engine (default /var/run/docker.sock). Without a
#   running engine, run.sh starts its own dockerd (as the tests do) in a
#   temporary directory and stops it at the end (root needed).
# --s3-endpoint: an S3-compatible endpoint (credentials from the usual AWS
#   environment variables): the data goes to s3://openhpo-example/data/
#   there, the channel reads it from S3 and the models go to
#   s3://openhpo-example/output/. Without it, run.sh starts its own s3rver
#   (tests/e2e/.s3rver, as the S3 tests install it, or installed there with
#   npm) on a free loopback port and does the same against it; when it
#   cannot, or with --file, the channel and the output are file://
#   directories.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
sock=/var/run/docker.sock
s3=""
use_file=""
while [ $# -gt 0 ]; do
    case "$1" in
    --socket) sock=$2; shift 2 ;;
    --s3-endpoint) s3=$2; shift 2 ;;
    --file) use_file=1; shift ;;
    *) echo "usage: $0 [--socket SOCK] [--s3-endpoint URL | --file]" >&2; exit 2 ;;
    esac
done
work=$(mktemp -d /tmp/openhpo-container-example.XXXXXX)
dockerd_pid=""
hpod_pid=""
s3rver_pid=""
cleanup() {
    [ -n "$hpod_pid" ] && kill "$hpod_pid" 2>/dev/null || true
    [ -n "$s3rver_pid" ] && kill "$s3rver_pid" 2>/dev/null || true
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
output=file://$work/output
hpod_s3=""
# No endpoint given: a local s3rver (the version the S3 tests pin), if node
# is there to run it.
s3rver_js=$top/tests/e2e/.s3rver/node_modules/s3rver/bin/s3rver.js
if [ -z "$s3" ] && [ -z "$use_file" ] && command -v node >/dev/null 2>&1; then
    if [ ! -f "$s3rver_js" ] && command -v npm >/dev/null 2>&1; then
        echo "installing s3rver@3.7.1 into tests/e2e/.s3rver"
        npm i --no-audit --no-fund --prefix "$top/tests/e2e/.s3rver" s3rver@3.7.1 \
            >"$work/npm.log" 2>&1 || tail -5 "$work/npm.log"
    fi
    if [ -f "$s3rver_js" ]; then
        port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        mkdir -p "$work/s3rver"
        node "$s3rver_js" -d "$work/s3rver" -a 127.0.0.1 -p "$port" >"$work/s3rver.log" 2>&1 &
        s3rver_pid=$!
        i=0
        until curl -s -o /dev/null "http://127.0.0.1:$port/"; do
            i=$((i + 1)); [ $i -lt 300 ] || { tail "$work/s3rver.log"; exit 1; }; sleep 0.1
        done
        s3=http://127.0.0.1:$port
        # s3rver's own credentials (it checks only the key id).
        export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
        echo "started s3rver at $s3"
    fi
fi
[ -n "$s3" ] || echo "no S3 endpoint (no --s3-endpoint, no node for s3rver, or --file): file:// data"
if [ -n "$s3" ]; then
    export AWS_REGION=${AWS_REGION:-us-east-1}
    /usr/bin/python3 - "$s3" "$work/data/data.csv" <<'PY'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
try:
    s3.create_bucket(Bucket="openhpo-example")
except s3.exceptions.BucketAlreadyOwnedByYou:
    pass
s3.upload_file(sys.argv[2], "openhpo-example", "data/data.csv")
print("uploaded s3://openhpo-example/data/data.csv")
PY
    data=s3://openhpo-example/data/
    output=s3://openhpo-example/output
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
    "$output"
echo "model.tar.gz files:"
if [ -n "$hpod_s3" ]; then
    /usr/bin/python3 - "$s3" <<'PY'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
keys = [o["Key"] for o in s3.list_objects_v2(Bucket="openhpo-example", Prefix="output/")
        .get("Contents", []) if o["Key"].endswith("/model.tar.gz")]
for k in keys[:3]:
    print("s3://openhpo-example/%s" % k)
print("(%d in all)" % len(keys))
PY
else
    find "$work/output" -name model.tar.gz | head -3
fi
