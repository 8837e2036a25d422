"""A small training program following the SageMaker contract, for tests.

Reads input/config/hyperparameters.json (under SM_INPUT_CONFIG_DIR) and
prints metrics. Static hyperparameter "mode" picks a behaviour:
  normal      prints loss lines and a final accuracy = f(x, n, kind)
  crash       prints a line, then exits 3
  nometric    exits 0 without printing the objective
  failurefile writes output/failure and exits 1
  sleep       sleeps "sleep" seconds (default 3600), printing a heartbeat
"sleep" (seconds) also delays normal mode, as does "delay" (a hyperparameter
that may be tuned, so that jobs of one tuning job take different times);
"track" names a file to which
start/end times are appended (to measure parallelism).
"""
import json
import os
import sys
import time


def objective(x, n, kind):
    return -((x - 2.5) ** 2) - 0.1 * (n - 7) ** 2 + {"a": 0.0, "b": 1.0, "c": 0.5}[kind]


def main():
    assert sys.argv[-1] == "train", sys.argv
    cfg = os.environ["SM_INPUT_CONFIG_DIR"]
    with open(os.path.join(cfg, "hyperparameters.json")) as f:
        hp = json.load(f)
    mode = hp.get("mode", "normal")
    track = hp.get("track")
    if track:
        with open(track, "a") as f:
            f.write("start %f %s\n" % (time.time(), os.environ["TRAINING_JOB_NAME"]))
    try:
        run(hp, mode)
    finally:
        if track:
            with open(track, "a") as f:
                f.write("end %f %s\n" % (time.time(), os.environ["TRAINING_JOB_NAME"]))


def run(hp, mode):
    if mode == "crash":
        print("about to crash", flush=True)
        sys.exit(3)
    if mode == "nometric":
        print("training done, but no metric printed", flush=True)
        return
    if mode == "failurefile":
        with open(os.path.join(os.environ["SM_OUTPUT_DIR"], "failure"), "w") as f:
            f.write("ValueError: learning rate too high")
        sys.exit(1)
    if mode == "sleep":
        end = time.time() + float(hp.get("sleep", "3600"))
        while time.time() < end:
            print("heartbeat loss: 1.0", flush=True)
            time.sleep(0.2)
        return
    x, n, kind = float(hp["x"]), int(hp["n"]), hp["kind"]
    for epoch in range(3):
        print("epoch %d loss: %.4f" % (epoch, 1.0 / (epoch + 1)), flush=True)
    if "sleep" in hp:
        time.sleep(float(hp["sleep"]))
    if "delay" in hp:
        time.sleep(float(hp["delay"]))
    with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w") as f:
        f.write("x=%s n=%s kind=%s\n" % (x, n, kind))
    print("accuracy=%.6f" % objective(x, n, kind), flush=True)


if __name__ == "__main__":
    main()
