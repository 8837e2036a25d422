"""Trains a support-vector classifier on scikit-learn's digits dataset.

A training program under the SageMaker container contract: invoked with the
argument "train", it reads its hyperparameters from
$SM_INPUT_CONFIG_DIR/hyperparameters.json (all values are strings), prints
its metrics for the MetricDefinitions regexes to find, saves the model in
$SM_MODEL_DIR, and on failure writes the reason to $SM_OUTPUT_DIR/failure.

Hyperparameters: C, gamma, kernel (tuned); validation_fraction, seed
(static). The digits data (1797 8x8 images) ships with scikit-learn
(Debian: python3-sklearn), so the input channel is not read.
"""
import json
import os
import pickle
import sys
import time
import traceback


def main():
    cfg = os.environ.get("SM_INPUT_CONFIG_DIR", "/opt/ml/input/config")
    with open(os.path.join(cfg, "hyperparameters.json")) as f:
        hp = json.load(f)
    C = float(hp.get("C", "1.0"))
    gamma = float(hp.get("gamma", "0.001"))
    kernel = hp.get("kernel", "rbf")
    fraction = float(hp.get("validation_fraction", "0.25"))
    seed = int(hp.get("seed", "7"))
    print("hyperparameters: C=%g gamma=%g kernel=%s" % (C, gamma, kernel), flush=True)

    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.svm import SVC

    X, y = load_digits(return_X_y=True)
    X = X / 16.0  # pixel intensities 0..16 -> 0..1
    X_train, X_val, y_train, y_val = train_test_split(
        X, y, test_size=fraction, random_state=seed, stratify=y)
    print("data: %d training and %d validation images" % (len(X_train), len(X_val)), flush=True)

    start = time.time()
    model = SVC(C=C, gamma=gamma, kernel=kernel, max_iter=200000)
    model.fit(X_train, y_train)
    print("fit seconds: %.3f" % (time.time() - start), flush=True)
    print("train accuracy: %.4f" % model.score(X_train, y_train), flush=True)
    print("validation accuracy: %.4f" % model.score(X_val, y_val), flush=True)

    model_dir = os.environ.get("SM_MODEL_DIR", "/opt/ml/model")
    with open(os.path.join(model_dir, "model.pkl"), "wb") as f:
        pickle.dump(model, f)


if __name__ == "__main__":
    try:
        main()
    except Exception:
        reason = traceback.format_exc()
        out = os.environ.get("SM_OUTPUT_DIR", "/opt/ml/output")
        try:
            with open(os.path.join(out, "failure"), "w") as f:
                f.write(reason[-1024:])
        except OSError:
            pass
        print(reason, file=sys.stderr, flush=True)
        sys.exit(1)
