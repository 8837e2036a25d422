"""A training program for the S3 tests (tests/e2e/test_s3.py).

Writes, into model/listing.json and output/data/listing.json, every file of
every channel (relative path -> SHA-256), and into model/checkpoints.json
what the checkpoint directory held at start; then writes checkpoints/end.txt.
Hyperparameters: "model_bytes" (a file of that many pseudo-random bytes,
model/big.bin, seeded by the job name), "mode" "fail" (exit 2 after writing
everything)."""
import hashlib
import json
import os
import random
import re
import sys


def listing(d):
    out = {}
    for base, dirs, files in os.walk(d):
        for f in files:
            p = os.path.join(base, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, d)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def main():
    assert sys.argv[-1] == "train", sys.argv
    with open(os.path.join(os.environ["SM_INPUT_CONFIG_DIR"], "hyperparameters.json")) as f:
        hp = json.load(f)
    root = os.environ["OPENHPO_JOB_DIR"]
    chans = {}
    for ch in json.loads(os.environ["SM_CHANNELS"]):
        var = "SM_CHANNEL_" + re.sub("[^A-Za-z0-9]", "_", ch).upper()
        chans[ch] = listing(os.environ[var])
    model, data = os.environ["SM_MODEL_DIR"], os.environ["SM_OUTPUT_DATA_DIR"]
    for d in (model, data):
        with open(os.path.join(d, "listing.json"), "w") as f:
            json.dump(chans, f, sort_keys=True)
    ck = os.path.join(root, "checkpoints")
    with open(os.path.join(model, "checkpoints.json"), "w") as f:
        json.dump(listing(ck) if os.path.isdir(ck) else None, f)
    os.makedirs(ck, exist_ok=True)
    with open(os.path.join(ck, "end.txt"), "w") as f:
        f.write("end of " + os.environ["TRAINING_JOB_NAME"])
    n = int(hp.get("model_bytes", "0"))
    if n:
        rnd = random.Random(os.environ["TRAINING_JOB_NAME"])
        with open(os.path.join(model, "big.bin"), "wb") as f:
            f.write(rnd.randbytes(n))
    print("accuracy=%s" % hp.get("x", "1"), flush=True)
    if hp.get("mode") == "fail":
        sys.exit(2)


if __name__ == "__main__":
    main()
