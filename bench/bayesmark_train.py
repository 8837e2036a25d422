#!/usr/bin/env python3
"""The training program of bench/bayesmark.py, as hpod runs it (a local
process, the SageMaker contract): reads the hyperparameters from
$SM_INPUT_CONFIG_DIR/hyperparameters.json (/opt/ml/input/config when unset),
whose static "problem" names the Bayesmark-style problem, and prints
"cv_loss=<value>", which the MetricDefinition's regex scrapes.

  bayesmark_train.py --server SOCK   asks the evaluation server of
      bench/bayesmark.py (a Unix socket) for the loss: the server has
      scikit-learn and the data loaded, caches repeated configurations and
      runs two fits at a time, so that 8 parallel jobs on 2 cores neither
      pay scikit-learn's import (about 1 s of CPU) nor oversubscribe the
      cores.  This mode imports only the standard library (run with -S).
  bayesmark_train.py                 computes the loss itself
      (bench/bayesmark_problems.py), as a self-contained training program.
"""
import json
import os
import socket
import sys


def main():
    cfg = os.environ.get("SM_INPUT_CONFIG_DIR", "/opt/ml/input/config")
    with open(os.path.join(cfg, "hyperparameters.json")) as f:
        hp = json.load(f)
    problem = hp.pop("problem")
    if len(sys.argv) > 2 and sys.argv[1] == "--server":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sys.argv[2])
        s.sendall((json.dumps({"problem": problem, "hp": hp,
                               "job": os.environ.get("TRAINING_JOB_NAME", "")}) + "\n").encode())
        reply = s.makefile("r").readline()
        if not reply:
            sys.exit("the evaluation server closed the connection")
        loss = json.loads(reply)["loss"]
    else:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import bayesmark_problems
        loss = bayesmark_problems.Problem(problem).evaluate(hp)
    print("cv_loss=%.12g" % loss, flush=True)


if __name__ == "__main__":
    main()
