#!/usr/bin/python3
"""Extracts the part of botocore's SageMaker model that openhpo serves.

openhpo validates requests of the current SageMaker API against botocore's own
model (service-2.json format), so that what boto3 sends and what the daemon
accepts agree by construction. The whole model is 1.5 MB and mostly about
operations openhpo does not implement; this script keeps only the operations
listed in OPERATIONS and the shapes reachable from their input, output and
error shapes, drops documentation, and applies the few OVERRIDES where
openhpo deliberately accepts more than SageMaker does (each one says why).
The operations and shapes that model predates (NEWER_OPERATIONS,
NEWER_SHAPES) are taken, with the shapes they reach, from the newest model
(--newer; scripts/botocore-newest/, see its README).

Usage:
    scripts/gen_model.py [--source service-2.json] [--newer service-2.json] [--out FILE]

Without --source it reads the model of Debian's python3-botocore (the
botocore that /usr/bin/python3, and so boto3 in the e2e tests, uses), else
of whatever botocore this Python imports (plain or .gz). The output (src/models/sagemaker-2017-07-24.json) is
committed, so building openhpo does not need botocore; rerun this script
after changing OPERATIONS or OVERRIDES, or to follow a newer botocore.
"""
import argparse
import gzip
import json
import os
import sys

OPERATIONS = [
    "CreateHyperParameterTuningJob",
    "DescribeHyperParameterTuningJob",
    "ListHyperParameterTuningJobs",
    "ListTrainingJobsForHyperParameterTuningJob",
    "StopHyperParameterTuningJob",
    "DescribeTrainingJob",
    "ListTrainingJobs",
    "StopTrainingJob",
    "CreateTrainingJob",
    "AddTags",
    "ListTags",
    "DeleteTags",
]

# Operations and shapes Debian's botocore predates, from the newest model.
NEWER_OPERATIONS = [
    "DeleteHyperParameterTuningJob",
]
NEWER_SHAPES = [
    "TuningJobCompletionCriteria",    # BestObjectiveNotImproving, ConvergenceDetected
    "HyperParameterTuningJobStatus",  # Deleting, DeleteFailed
]
NEWER_DEFAULT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "botocore-newest",
                             "sagemaker", "2017-07-24", "service-2.json")

# (shape, key, value, reason): openhpo's deliberate departures from SageMaker.
OVERRIDES = [
    ("S3Uri", "pattern", r"^((https|s3)://([^/]+)/?(.*)|file:///.*)$",
     "openhpo reads channels from and writes output to local directories "
     "given as file:///absolute/path URIs"),
]

# Keys of shapes and members the validator and the daemon use; everything
# else (documentation, deprecation notes, ...) is dropped.
SHAPE_KEYS = ("type", "members", "required", "member", "key", "value", "min", "max",
              "pattern", "enum", "exception", "error", "union", "timestampFormat",
              "sensitive", "box")
MEMBER_KEYS = ("shape", "idempotencyToken", "box", "jsonvalue", "deprecated")
OPERATION_KEYS = ("name", "http", "input", "output", "errors")


DEBIAN_BOTOCORE = "/usr/lib/python3/dist-packages/botocore"
MODEL_DIR = os.path.join("data", "sagemaker", "2017-07-24")


def default_source():
    roots = [DEBIAN_BOTOCORE]
    try:
        import botocore
        roots.append(os.path.dirname(botocore.__file__))
    except ImportError:
        pass
    for root in roots:
        for name in ("service-2.json", "service-2.json.gz"):
            path = os.path.join(root, MODEL_DIR, name)
            if os.path.exists(path):
                return path
    sys.exit("gen_model.py: no botocore SageMaker model found; pass --source")


def load(path):
    if path.endswith(".gz"):
        with gzip.open(path, "rt") as f:
            return json.load(f)
    with open(path) as f:
        return json.load(f)


def trim(model, newer=None):
    newer = newer or {"operations": {}, "shapes": {}}
    # A NEWER_SHAPES shape, and every shape it reaches that the model lacks,
    # comes from the newer model.
    from_newer = set()

    def take_newer(name):
        if name in from_newer:
            return
        if name not in newer["shapes"]:
            sys.exit("gen_model.py: shape %s is not in the newer model" % name)
        from_newer.add(name)
        s = newer["shapes"][name]
        for m in s.get("members", {}).values():
            if m["shape"] not in model["shapes"]:
                take_newer(m["shape"])
        for k in ("member", "key", "value"):
            if k in s and s[k]["shape"] not in model["shapes"]:
                take_newer(s[k]["shape"])

    for name in NEWER_SHAPES:
        take_newer(name)
    for op_name in NEWER_OPERATIONS:
        op = newer["operations"].get(op_name)
        if op is None:
            sys.exit("gen_model.py: operation %s is not in the newer model" % op_name)
        for k in ("input", "output"):
            if k in op and op[k]["shape"] not in model["shapes"]:
                take_newer(op[k]["shape"])
    shapes = dict(model["shapes"])
    for name in from_newer:
        shapes[name] = newer["shapes"][name]
    keep = []
    seen = set()

    def walk(name):
        if name in seen:
            return
        if name not in shapes:
            sys.exit("gen_model.py: shape %s is referenced but not defined" % name)
        seen.add(name)
        keep.append(name)
        s = shapes[name]
        for m in s.get("members", {}).values():
            walk(m["shape"])
        for k in ("member", "key", "value"):
            if k in s:
                walk(s[k]["shape"])

    ops = {}
    for op_name in OPERATIONS + NEWER_OPERATIONS:
        op = (newer["operations"] if op_name in NEWER_OPERATIONS else model["operations"]).get(
            op_name)
        if op is None:
            sys.exit("gen_model.py: operation %s is not in the model" % op_name)
        ops[op_name] = {k: op[k] for k in OPERATION_KEYS if k in op}
        for k in ("input", "output"):
            if k in op:
                walk(op[k]["shape"])
        for e in op.get("errors", []):
            walk(e["shape"])

    out_shapes = {}
    for name in sorted(keep):
        s = shapes[name]
        t = {k: s[k] for k in SHAPE_KEYS if k in s}
        if "members" in t:
            t["members"] = {m: {k: v for k, v in spec.items() if k in MEMBER_KEYS}
                            for m, spec in t["members"].items()}
        out_shapes[name] = t

    for shape, key, value, _reason in OVERRIDES:
        if shape in out_shapes:
            out_shapes[shape][key] = value

    meta = dict(model["metadata"])
    return {
        "version": model.get("version", "2.0"),
        "metadata": meta,
        "openhpo": {
            "generatedBy": "scripts/gen_model.py",
            "overrides": [{"shape": s, "key": k, "value": v, "reason": r}
                          for s, k, v, r in OVERRIDES],
        },
        "operations": ops,
        "shapes": out_shapes,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", default=None, help="botocore service-2.json")
    ap.add_argument("--newer", default=NEWER_DEFAULT,
                    help="the newest botocore service-2.json (NEWER_OPERATIONS, NEWER_SHAPES)")
    ap.add_argument("--out", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "src", "models",
        "sagemaker-2017-07-24.json"))
    args = ap.parse_args()
    model = load(args.source or default_source())
    trimmed = trim(model, load(args.newer))
    with open(args.out, "w") as f:
        json.dump(trimmed, f, indent=1, sort_keys=False)
        f.write("\n")
    print("gen_model.py: %d operations, %d shapes -> %s" % (
        len(trimmed["operations"]), len(trimmed["shapes"]), args.out), file=sys.stderr)


if __name__ == "__main__":
    main()
