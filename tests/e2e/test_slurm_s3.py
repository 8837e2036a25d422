"""End-to-end: s3:// channels on a multi-node Slurm job, against a real
Slurm cluster (slurm_env.py, 3 nodes) and a real s3rver (s3_env.py).

InstanceCount 2 with a ShardedByS3Key channel of 6 objects and a
FullyReplicated one: each host's program lists the files under its
SM_CHANNEL_<X> directories into a report; host 1 reads JOB_DIR/input/data,
host 2 JOB_DIR/hosts/algo-2/input/data (backends/slurm.c, channels.h). The
shards must be disjoint, cover every object and follow the documented rule
(test_docker_s3.check_shards); the replicated channel whole on both."""
import json
import os

import pytest

from conftest import job_request
from s3_env import KEY, s3rver  # noqa: F401 (the fixture)
from slurm_env import cluster_or_skip
from test_docker_s3 import RANGES, check_shards, put_objects
from test_slurm import slurm_hpod

LS_PROGRAM = r'''#!/usr/bin/python3
import json, os
cfg = os.environ["SM_INPUT_CONFIG_DIR"]
hp = json.load(open(os.path.join(cfg, "hyperparameters.json")))
files = []
for ch in json.loads(os.environ["SM_CHANNELS"]):
    d = os.environ["SM_CHANNEL_" + ch.upper()]
    for root, _, names in os.walk(d):
        files += [ch + "/" + os.path.relpath(os.path.join(root, n), d) for n in names]
with open(os.path.join(hp["report"], os.environ["SM_CURRENT_HOST"]), "w") as f:
    json.dump(sorted(files), f)
print("accuracy=1.0", flush=True)
'''


@pytest.fixture(autouse=True)
def aws_env(monkeypatch):
    for k in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", KEY)
    monkeypatch.setenv("AWS_REGION", "us-east-1")


@pytest.fixture(scope="module")
def cluster3(tmp_path_factory):
    c = cluster_or_skip(tmp_path_factory.mktemp("slurm3s3"), nodes=3)
    yield c
    c.stop()


def test_slurm_sharded_channel_splits_across_two_nodes(tmp_path, cluster3, s3rver):
    prog = tmp_path / "ls.py"
    prog.write_text(LS_PROGRAM)
    prog.chmod(0o755)
    report = tmp_path / "report"
    report.mkdir()
    channels = put_objects(s3rver.client(), "slshards")
    d = slurm_hpod(tmp_path, cluster3,
                   images={"ls:latest": {"backend": "slurm", "command": [str(prog)]}},
                   extra=["--s3-endpoint", s3rver.url]).start()
    try:
        req = job_request(name="sls3", max_jobs=1, parallel=1, image="ls:latest",
                          static={"report": str(report)}, ranges=RANGES, channels=channels)
        req["TrainingJobDefinition"]["ResourceConfig"]["InstanceCount"] = 2
        d.ok("CreateTuningJob", req)
        st = d.wait_status("sls3", ["Completed", "Failed"], timeout=120)
        assert st["TuningJobStatus"] == "Completed", (st, d.training_jobs("sls3"), d.read_log())
        seen = {h: json.load(open(str(report / h))) for h in sorted(os.listdir(str(report)))}
        check_shards(seen)
    finally:
        d.cleanup()
