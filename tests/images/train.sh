#!/bin/sh
# The tiny test image's training program (busybox sh): follows the SageMaker
# contract under /opt/ml. Hyperparameters (input/config/hyperparameters.json):
#   mode    normal | sleep | fail | hosts | ls    (default normal)
#   x       a number; loss = (x - 3)^2 + 1/epoch, accuracy = -loss
#   epochs  epochs printed (default 3)
#   sleep   seconds slept per epoch (default 0) or, in mode sleep, in all
# Every mode but fail writes /opt/ml/model/x (the value of x, and the host).
# mode fail writes /opt/ml/output/failure and exits 3. mode hosts prints
# resourceconfig.json and resolves and pings every other host by name,
# retrying while peers come up (60 s), stays up `linger` seconds (default 10)
# for peers still looking for it, then writes model/host-<current host>.
# mode ls lists the files of every channel (input/data/<channel>/...) as
# <channel>/<path> lines, sorted, into its log and model/channels-<host>,
# then trains as normal.
ML=/opt/ml
CFG=$ML/input/config
hp() {
    grep -o "\"$1\": *\"[^\"]*\"" "$CFG/hyperparameters.json" | head -n 1 |
        sed 's/.*: *"\(.*\)"$/\1/'
}
# Run as `train` (no ENTRYPOINT: "train" is the program) or as ENTRYPOINT train.
case "${1:-train}" in train) ;; *) echo "usage: train (got '$*')" >&2; exit 64 ;; esac
mode=$(hp mode); mode=${mode:-normal}
x=$(hp x); x=${x:-0}
epochs=$(hp epochs); epochs=${epochs:-3}
nap=$(hp sleep); nap=${nap:-0}
host=$(grep -o '"current_host": *"[^"]*"' "$CFG/resourceconfig.json" | sed 's/.*: *"\(.*\)"$/\1/')
echo "training job $TRAINING_JOB_NAME on $host (SM_CURRENT_HOST=$SM_CURRENT_HOST) mode=$mode x=$x"
trap 'echo "got SIGTERM, exiting"; exit 143' TERM
case "$mode" in
fail)
    echo "the training program failed on purpose" >&2
    echo "ValueError: bad hyperparameter x=$x" > "$ML/output/failure"
    exit 3 ;;
sleep)
    echo "sleeping $nap s"
    i=0
    while [ "$i" -lt "$nap" ]; do sleep 1 & wait $!; i=$((i + 1)); echo "slept $i"; done ;;
hosts)
    cat "$CFG/resourceconfig.json"; echo
    echo "SM_HOSTS=$SM_HOSTS"
    for h in $(grep -o '"algo-[0-9]*"' "$CFG/resourceconfig.json" | tr -d '"' | sort -u); do
        [ "$h" = "$host" ] && continue
        ok=0; until=$(($(date +%s) + 60))
        while [ "$(date +%s)" -lt "$until" ]; do
            addr=$(timeout 3 nslookup "$h" 2>/dev/null |
                sed -n 's/^Address[^:]*: *\([0-9.]*\)$/\1/p' | tail -n 1)
            # ping needs a raw socket: as a user (run_as), resolving it is the check.
            if [ -n "$addr" ] && { [ "$(id -u)" != 0 ] || timeout 3 ping -c 1 -W 1 "$h" >/dev/null 2>&1; }; then
                ok=1; break
            fi
            echo "waiting for $h (${addr:-unresolved})"; sleep 0.2
        done
        if [ $ok = 1 ]; then echo "resolved $h -> $addr and pinged it"; else echo "cannot reach $h" >&2; exit 4; fi
    done
    # Stay up a while: a peer still looking for this host finds it.
    linger=$(hp linger); sleep "${linger:-10}"
    echo "$host" > "$ML/model/host-$host" ;;
ls)
    for c in "$ML"/input/data/*/; do
        [ -d "$c" ] || continue
        c=${c%/}; n=${c##*/}
        (cd "$c" && find . -type f) | sed "s|^\./|$n/|"
    done | sort > "$ML/model/channels-$host"
    sed "s/^/$host has /" "$ML/model/channels-$host" ;;
esac
e=1
while [ "$e" -le "$epochs" ]; do
    loss=$(awk -v x="$x" -v e="$e" 'BEGIN { printf "%.6f", (x - 3) * (x - 3) + 1 / e }')
    acc=$(awk -v l="$loss" 'BEGIN { printf "%.6f", -l }')
    echo "epoch=$e loss: $loss accuracy=$acc"
    [ "$nap" != 0 ] && [ "$mode" != sleep ] && { sleep "$nap" & wait $!; }
    e=$((e + 1))
done
echo "x=$x host=$host" > "$ML/model/x"
mkdir -p "$ML/output/data" && echo "output of $host" > "$ML/output/data/out-$host.txt"
echo "done"
