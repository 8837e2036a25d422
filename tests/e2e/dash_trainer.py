"""A training program for the dashboard tests: two metrics per epoch and
some failures, so that every plot has something to draw.

Reads the SageMaker contract's hyperparameters.json: "q" (float), "lr"
(float, tuned on a log scale), "kind" ("a".."c"), "epochs", "sleep" (seconds
before each epoch; "slow_sleep" instead for the jobs numbered above
"slow_after", so that a tuning job has finished and long-running jobs). Prints "epoch E train_loss=T val_loss=V" per epoch, with
V = q + |log10(lr) + 2| / 4 + index(kind) / 10 + 0.1 / E. The training job
whose number in its name (<tuning>-<NNN>-<hex>) is 3 mod 5 fails: it prints
a line and exits 3 (AlgorithmError), so a tuning job of 5 or more has
failed jobs wherever the strategy samples.
"""
import json
import math
import os
import re
import sys
import time


def main():
    assert sys.argv[-1] == "train", sys.argv
    with open(os.path.join(os.environ["SM_INPUT_CONFIG_DIR"], "hyperparameters.json")) as f:
        hp = json.load(f)
    name = os.environ["TRAINING_JOB_NAME"]
    m = re.search(r"-(\d{3})-[0-9a-f]+(-\d+)?$", name)
    if m and int(m.group(1)) % 5 == 3:
        print("loading data for %s" % name, flush=True)
        print("error: diverged at step 0", file=sys.stderr, flush=True)
        sys.exit(3)
    q = float(hp.get("q", "0.5"))
    lr = float(hp.get("lr", "0.01"))
    kind = ord(hp.get("kind", "a")) - ord("a")
    base = q + abs(math.log10(lr) + 2) / 4 + kind / 10
    sleep = float(hp.get("sleep", "0"))
    if m and "slow_after" in hp and int(m.group(1)) > int(hp["slow_after"]):
        sleep = float(hp.get("slow_sleep", "1"))
    for e in range(1, int(hp.get("epochs", "5")) + 1):
        time.sleep(sleep)
        print("epoch %d train_loss=%.6f val_loss=%.6f" % (e, base * 0.8 + 0.2 / e, base + 0.1 / e),
              flush=True)


if __name__ == "__main__":
    main()
