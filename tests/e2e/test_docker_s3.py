"""End-to-end: s3:// channels on a multi-host Docker job (issue 11's
"ShardedByS3Key with InstanceCount 2"), against a real dockerd
(docker_env.py) and a real s3rver (s3_env.py), through a 2017-API tuning job (the current API's
CreateTrainingJob still refuses InstanceCount > 1).

A training job of the busybox test image (tests/images, mode ls) with
InstanceCount 2 has a ShardedByS3Key channel of 6 objects and a
FullyReplicated one of 3: each host lists what it sees under
/opt/ml/input/data into its model/channels-<host>; the model (both hosts'
files, merged) goes to S3 as model.tar.gz. The shards must be disjoint,
cover every object, and follow docs/S3.md's rule (objects sorted by key, the
i-th to host i mod N); the replicated channel must be whole on both."""
import io
import json
import tarfile
import time

import pytest

from conftest import Hpod, job_request
from docker_env import IMAGE, docker_engine  # noqa: F401 (the fixture)
from s3_env import KEY, s3rver  # noqa: F401 (the fixture)

SHARDED = ["part-00.csv", "part-01.csv", "part-02.csv", "part-03.csv", "Z-first.csv",
           "sub/deep.csv"]
REPLICATED = ["a.txt", "b.txt", "dir/c.txt"]
RANGES = {"ContinuousParameterRanges": [
    {"Name": "x", "MinValue": "0", "MaxValue": "6", "Type": "Continuous"}]}


@pytest.fixture(autouse=True)
def aws_env(monkeypatch):
    for k in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", KEY)
    monkeypatch.setenv("AWS_REGION", "us-east-1")


@pytest.fixture
def dshpod(tmp_path, docker_engine, s3rver):
    d = Hpod(str(tmp_path), ["--docker-socket", docker_engine.sock, "--grace", "2",
                             "--s3-endpoint", s3rver.url]).start()
    d.engine = docker_engine
    yield d
    d.cleanup()
    for c in docker_engine.containers(d.data):
        docker_engine.api("DELETE", "/containers/%s?force=1" % c["Id"])


def current(d, op, body):
    st, _, raw = d.raw("/", json.dumps(body).encode(), headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "SageMaker." + op})
    js = json.loads(raw) if raw else None
    assert st == 200, (op, st, js)
    return js


def channel(name, uri, dist):
    return {"ChannelName": name, "DataSource": {"S3DataSource": {
        "S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": dist}}}


def put_objects(s3, bucket):
    """The sharded channel's objects under data/train/, the replicated one's
    under data/meta/; the two channels reading them."""
    s3.create_bucket(Bucket=bucket)
    for k in SHARDED:
        s3.put_object(Bucket=bucket, Key="data/train/" + k, Body=("row of %s\n" % k).encode())
    for k in REPLICATED:
        s3.put_object(Bucket=bucket, Key="data/meta/" + k, Body=("meta %s\n" % k).encode())
    return [channel("train", "s3://%s/data/train/" % bucket, "ShardedByS3Key"),
            channel("meta", "s3://%s/data/meta/" % bucket, "FullyReplicated")]


def check_shards(seen):
    """seen: host -> the <channel>/<path> files it saw."""
    assert sorted(seen) == ["algo-1", "algo-2"], seen
    # The documented rule: keys in byte order, the i-th to host i mod 2.
    order = sorted(SHARDED, key=lambda k: ("data/train/" + k).encode())
    want = {"algo-%d" % (h + 1): sorted("train/" + k for i, k in enumerate(order) if i % 2 == h)
            for h in range(2)}
    meta = sorted("meta/" + k for k in REPLICATED)
    for host in ("algo-1", "algo-2"):
        got_train = sorted(f for f in seen[host] if f.startswith("train/"))
        got_meta = sorted(f for f in seen[host] if f.startswith("meta/"))
        assert got_train == want[host], (host, seen)
        assert got_meta == meta, (host, seen)
    got_a = {f for f in seen["algo-1"] if f.startswith("train/")}
    got_b = {f for f in seen["algo-2"] if f.startswith("train/")}
    assert not (got_a & got_b) and got_a | got_b == {"train/" + k for k in SHARDED}
    assert len(got_a) == len(got_b) == 3


def test_sharded_channel_splits_across_two_docker_hosts(dshpod, s3rver):
    s3 = s3rver.client()
    channels = put_objects(s3, "shards")
    req = job_request(name="dks3", max_jobs=1, parallel=1, image=IMAGE,
                      static={"mode": "ls", "epochs": "1"}, ranges=RANGES,
                      channels=channels)
    d = req["TrainingJobDefinition"]
    d["OutputDataConfig"]["S3OutputPath"] = "s3://shards/out"
    d["ResourceConfig"]["InstanceCount"] = 2
    dshpod.ok("CreateTuningJob", req)
    t = dshpod.wait_status("dks3", ["Completed", "Failed"], timeout=180)
    (j,) = dshpod.training_jobs("dks3")
    name = j["TrainingJobName"]
    tj = current(dshpod, "DescribeTrainingJob", {"TrainingJobName": name})
    assert t["TuningJobStatus"] == "Completed", (t, tj, dshpod.read_log())
    assert tj["ResourceConfig"]["InstanceCount"] == 2, tj
    assert tj["ModelArtifacts"]["S3ModelArtifacts"] == \
        "s3://shards/out/%s/output/model.tar.gz" % name, tj
    body = s3.get_object(Bucket="shards", Key="out/%s/output/model.tar.gz" % name)["Body"].read()
    seen = {}
    with tarfile.open(fileobj=io.BytesIO(body)) as tf:
        for m in tf.getmembers():
            base = m.name.lstrip("./")
            if base.startswith("channels-"):
                seen[base[len("channels-"):]] = tf.extractfile(m).read().decode().split()
    check_shards(seen)
