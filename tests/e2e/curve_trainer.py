"""A training program with a learning curve, for the strategy tests.

Reads the SageMaker contract's hyperparameters.json and prints one
"epoch E val_loss=V" line per epoch, V = q + 0.1 / E (q: the hyperparameter
"q", a float, or the index of categorical values "a".."z" given as "c"
plus "d"; with "wave", 1 + sin(12 q)), for "epochs" epochs, sleeping "sleep" seconds before each.
"track" names a file to which "start NAME", "value NAME E V T" (T: the
wall-clock time; each value
just before it is printed, with SIGTERM held off so the file and the log
agree) and "end NAME" are appended.
"""
import json
import math
import os
import signal
import sys
import time


def main():
    assert sys.argv[-1] == "train", sys.argv
    with open(os.path.join(os.environ["SM_INPUT_CONFIG_DIR"], "hyperparameters.json")) as f:
        hp = json.load(f)
    name = os.environ["TRAINING_JOB_NAME"]
    track = hp.get("track")

    def note(line):
        if track:
            with open(track, "a") as f:
                f.write(line + "\n")

    if "q" in hp:
        q = float(hp["q"])
        if hp.get("wave"):  # many local minima: a model keeps exploring
            q = 1.0 + math.sin(12.0 * q)
    else:
        q = (ord(hp.get("c", "a")) - ord("a")) + 0.1 * (ord(hp.get("d", "a")) - ord("a"))
    note("start %s" % name)
    for e in range(1, int(hp.get("epochs", "5")) + 1):
        time.sleep(float(hp.get("sleep", "0")))
        v = q + 0.1 / e
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        note("value %s %d %.6f %.3f" % (name, e, v, time.time()))
        print("epoch %d val_loss=%.6f" % (e, v), flush=True)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    note("end %s" % name)


if __name__ == "__main__":
    main()
