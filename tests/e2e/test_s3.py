"""s3:// channels and artifacts against a real S3-compatible server (s3rver,
started by s3_env.py), through the current API.

A CountingProxy between hpod and s3rver counts the requests, so the tests
can tell that a tuning job's training jobs fetched each object once, and
that a large model went up as a multipart upload."""
import hashlib
import io
import json
import os
import random
import sys
import tarfile
import time

import pytest

from conftest import ACCOUNT, Hpod, private_dir
from s3_env import KEY, free_port, s3_proxy, s3rver  # noqa: F401 (fixtures)

HERE = os.path.dirname(os.path.abspath(__file__))
TRAINER = os.path.join(HERE, "s3_trainer.py")
TERMINAL = ("Completed", "Failed", "Stopped")


@pytest.fixture(autouse=True)
def aws_env(monkeypatch):
    for k in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", KEY)
    monkeypatch.setenv("AWS_REGION", "us-east-1")


def start_hpod(tmp_path, endpoint):
    with open(tmp_path / "images.json", "w") as f:
        json.dump({"s3trainer:latest": [sys.executable, TRAINER]}, f)
    return Hpod(str(tmp_path), ["--s3-endpoint", endpoint]).start()


def call(d, op, body, ok=True):
    st, _, raw = d.raw("/", json.dumps(body).encode(), headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "SageMaker." + op})
    js = json.loads(raw) if raw else None
    if ok:
        assert st == 200, (op, st, js)
    return st, js


def channel(name, uri, data_type="S3Prefix", dist="FullyReplicated"):
    return {"ChannelName": name, "DataSource": {"S3DataSource": {
        "S3DataType": data_type, "S3Uri": uri, "S3DataDistributionType": dist}}}


def definition(channels, output, static=None):
    return {
        "AlgorithmSpecification": {
            "TrainingImage": "s3trainer:latest", "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "accuracy", "Regex": "accuracy=([-+0-9.eE]+)"}]},
        "RoleArn": "arn:aws:iam::%s:role/openhpo" % ACCOUNT,
        "InputDataConfig": channels,
        "OutputDataConfig": {"S3OutputPath": output},
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                           "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 300},
        "StaticHyperParameters": static or {},
    }


def tune(d, name, channels, output, max_jobs=3, parallel=1, static=None, timeout=120,
         retries=None):
    defn = definition(channels, output, static)
    if channels is None:
        del defn["InputDataConfig"]
    if retries is not None:
        defn["RetryStrategy"] = {"MaximumRetryAttempts": retries}
    call(d, "CreateHyperParameterTuningJob", {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "accuracy"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": max_jobs,
                               "MaxParallelTrainingJobs": parallel},
            "ParameterRanges": {"ContinuousParameterRanges": [
                {"Name": "x", "MinValue": "0", "MaxValue": "1"}]}},
        "TrainingJobDefinition": defn})
    deadline = time.time() + timeout
    while time.time() < deadline:
        _, t = call(d, "DescribeHyperParameterTuningJob", {"HyperParameterTuningJobName": name})
        if t["HyperParameterTuningJobStatus"] in TERMINAL:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("tuning job %s did not end: %s\n%s" % (name, t, d.read_log()))
    _, js = call(d, "ListTrainingJobsForHyperParameterTuningJob",
                 {"HyperParameterTuningJobName": name, "MaxResults": 100})
    jobs = [call(d, "DescribeTrainingJob", {"TrainingJobName": s["TrainingJobName"]})[1]
            for s in js["TrainingJobSummaries"]]
    return t, sorted(jobs, key=lambda j: j["TrainingJobName"])


def train(d, name, channels, output, static=None, extra=None, timeout=60):
    body = definition(channels, output, static)
    body["HyperParameters"] = body.pop("StaticHyperParameters")
    body["TrainingJobName"] = name
    body.update(extra or {})
    call(d, "CreateTrainingJob", body)
    deadline = time.time() + timeout
    while time.time() < deadline:
        _, j = call(d, "DescribeTrainingJob", {"TrainingJobName": name})
        if j["TrainingJobStatus"] in TERMINAL:
            return j
        time.sleep(0.1)
    raise AssertionError("training job %s did not end: %s\n%s" % (name, j, d.read_log()))


def put(s3, bucket, objs):
    try:
        s3.create_bucket(Bucket=bucket)
    except (s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
        pass
    for k, v in objs.items():
        s3.put_object(Bucket=bucket, Key=k, Body=v)


def sha(b):
    return hashlib.sha256(b).hexdigest()


def tar_members(blob):
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as t:
        return {m.name: t.extractfile(m).read() for m in t.getmembers() if m.isfile()}


def get(s3, bucket, key):
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def test_s3_prefix_cached_once_per_tuning_job(tmp_path, s3rver, s3_proxy):
    """Three training jobs of one tuning job see the channel's files at their
    relative paths (directory markers skipped), and every object was fetched
    from S3 exactly once; the large one in ranged parts."""
    s3 = s3rver.client()
    big = random.Random(1).randbytes(20 * 1024 * 1024)  # > CHANNELS_RANGE_PART: ranged parts
    objs = {"data/train/a.csv": b"1,2\n", "data/train/sub/b.csv": b"3,4\n",
            "data/train/sub/": b"", "data/train/big.bin": big, "data/other/c.csv": b"no"}
    put(s3, "prefixbkt", objs)
    d = start_hpod(tmp_path, s3_proxy.url)
    t, jobs = tune(d, "s3prefix", [channel("train", "s3://prefixbkt/data/train/")],
                   "s3://prefixbkt/out", max_jobs=3, parallel=2)
    assert [j["TrainingJobStatus"] for j in jobs] == ["Completed"] * 3, jobs
    want = {"a.csv": sha(b"1,2\n"), "sub/b.csv": sha(b"3,4\n"), "big.bin": sha(big)}
    for j in jobs:
        name = j["TrainingJobName"]
        assert j["ModelArtifacts"]["S3ModelArtifacts"] == \
            "s3://prefixbkt/out/%s/output/model.tar.gz" % name
        model = tar_members(get(s3, "prefixbkt", "out/%s/output/model.tar.gz" % name))
        assert json.loads(model["listing.json"]) == {"train": want}
        out = tar_members(get(s3, "prefixbkt", "out/%s/output/output.tar.gz" % name))
        assert json.loads(out["listing.json"]) == {"train": want}
        statuses = [s["Status"] for s in j["SecondaryStatusTransitions"]]
        assert "Downloading" in statuses and statuses.index("Downloading") < \
            statuses.index("Training"), statuses
    for k in ("data/train/a.csv", "data/train/sub/b.csv"):
        assert len(s3_proxy.gets_of("prefixbkt", k)) == 1, (k, s3_proxy.requests)
    parts = s3_proxy.gets_of("prefixbkt", "data/train/big.bin")
    assert len(parts) == 3 and all(p[2] for p in parts), parts  # 8+8+4 MiB, once each
    assert s3_proxy.gets_of("prefixbkt", "data/other/c.csv") == []
    # The tuning job is over: its cache is dropped (on the download worker).
    cache = os.path.join(d.data, "jobs", ACCOUNT, ".s3-cache")
    deadline = time.time() + 20
    while time.time() < deadline and any(n.startswith("s3prefix-") for n in os.listdir(cache)):
        time.sleep(0.1)
    assert not [n for n in os.listdir(cache) if n.startswith("s3prefix-")], os.listdir(cache)


def test_manifest_channel_and_sharded_single_host(tmp_path, s3rver, s3_proxy):
    """ManifestFile: exactly the listed objects, at their manifest paths.
    ShardedByS3Key on the local backend (one host) gives that host all."""
    s3 = s3rver.client()
    put(s3, "manibkt", {"pool/x/1.txt": b"one", "pool/y/2.txt": b"two", "pool/3.txt": b"not"})
    manifest = [{"prefix": "s3://manibkt/pool/"}, "x/1.txt", "y/2.txt"]
    put(s3, "manibkt", {"m/manifest.json": json.dumps(manifest).encode(),
                        "shard/a": b"a", "shard/b": b"b", "shard/c": b"c"})
    d = start_hpod(tmp_path, s3_proxy.url)
    j = train(d, "manifest1", [
        channel("m", "s3://manibkt/m/manifest.json", "ManifestFile"),
        channel("s", "s3://manibkt/shard/", dist="ShardedByS3Key")],
        "s3://manibkt/out")
    assert j["TrainingJobStatus"] == "Completed", j
    model = tar_members(get(s3, "manibkt", "out/manifest1/output/model.tar.gz"))
    assert json.loads(model["listing.json"]) == {
        "m": {"x/1.txt": sha(b"one"), "y/2.txt": sha(b"two")},
        "s": {"a": sha(b"a"), "b": sha(b"b"), "c": sha(b"c")}}
    assert s3_proxy.gets_of("manibkt", "pool/3.txt") == []


def test_multipart_artifacts_and_checkpoints(tmp_path, s3rver, s3_proxy):
    """A model over the 8 MiB part size goes up as a multipart upload and
    comes back whole; checkpoints are downloaded at the start and uploaded
    at the end."""
    s3 = s3rver.client()
    put(s3, "artbkt", {"in/a.txt": b"a", "ckpt/start.txt": b"from before"})
    d = start_hpod(tmp_path, s3_proxy.url)
    n = 9 * 1024 * 1024 + 123
    j = train(d, "bigmodel", [channel("train", "s3://artbkt/in/")], "s3://artbkt/models/",
              static={"model_bytes": str(n)},
              extra={"CheckpointConfig": {"S3Uri": "s3://artbkt/ckpt"}})
    assert j["TrainingJobStatus"] == "Completed", j
    assert j["CheckpointConfig"] == {"S3Uri": "s3://artbkt/ckpt"}, j
    blob = get(s3, "artbkt", "models/bigmodel/output/model.tar.gz")
    model = tar_members(blob)
    assert model["big.bin"] == random.Random("bigmodel").randbytes(n)
    assert json.loads(model["checkpoints.json"]) == {"start.txt": sha(b"from before")}
    assert len(blob) > 8 * 1024 * 1024  # random bytes do not compress
    assert s3_proxy.count("POST", "/artbkt/models/bigmodel/output/model.tar.gz?uploads") == 1
    assert s3_proxy.count("PUT", "/artbkt/models/bigmodel/output/model.tar.gz?partNumber=") == 2
    assert get(s3, "artbkt", "ckpt/end.txt") == b"end of bigmodel"
    # the S3 settings hpo-pack read are gone from the job directory
    assert not os.path.exists(os.path.join(d.data, "jobs", ACCOUNT, "bigmodel",
                                           "pack-settings.json"))


def test_file_artifacts_temp_and_rename(tmp_path, s3rver):
    """file:// output: model.tar.gz and output.tar.gz, no temporary file left,
    a symlink planted at the final name is replaced, never written through;
    a Failed job's artifacts are stored too."""
    s3 = s3rver.client()
    put(s3, "filebkt", {"in/a.txt": b"a"})
    out = tmp_path / "out"
    dest = out / "filejob" / "output"
    dest.mkdir(parents=True)
    victim = tmp_path / "victim"
    victim.write_bytes(b"untouched")
    os.symlink(str(victim), str(dest / "model.tar.gz"))
    d = start_hpod(tmp_path, s3rver.url)
    j = train(d, "filejob", [channel("train", "s3://filebkt/in/")], "file://%s" % out,
              static={"mode": "fail"})
    assert j["TrainingJobStatus"] == "Failed", j
    assert victim.read_bytes() == b"untouched"
    assert not os.path.islink(dest / "model.tar.gz")
    assert sorted(os.listdir(dest)) == ["model.tar.gz", "output.tar.gz"]
    model = tar_members((dest / "model.tar.gz").read_bytes())
    assert json.loads(model["listing.json"]) == {"train": {"a.txt": sha(b"a")}}
    assert "listing.json" in tar_members((dest / "output.tar.gz").read_bytes())


def test_bad_sources_fail_the_job_naming_the_uri(tmp_path, s3rver):
    """A missing bucket, a manifest that is not JSON, a key escaping the
    channel: each training job Fails with a FailureReason naming the URI and
    why; the tuning job still ends."""
    s3 = s3rver.client()
    put(s3, "badbkt", {"m/bad.json": b"this is { not json"})
    d = start_hpod(tmp_path, s3rver.url)
    cases = [
        ([channel("train", "s3://no-such-bucket/data/")],
         ["s3://no-such-bucket/data/", "NoSuchBucket", "404"]),
        ([channel("train", "s3://badbkt/m/bad.json", "ManifestFile")],
         ["s3://badbkt/m/bad.json", "not JSON"]),
        ([channel("train", "s3://badbkt/nothing-here/")],
         ["s3://badbkt/nothing-here/", "no S3 objects"]),
    ]
    for i, (chans, words) in enumerate(cases):
        t, jobs = tune(d, "bad%d" % i, chans, "s3://badbkt/out", max_jobs=2, parallel=1)
        assert t["HyperParameterTuningJobStatus"] in TERMINAL
        assert jobs and all(j["TrainingJobStatus"] == "Failed" for j in jobs), jobs
        for j in jobs:
            assert j["FailureReason"].startswith("ClientError: "), j["FailureReason"]
            for w in words:
                assert w in j["FailureReason"], (w, j["FailureReason"])


def test_unreachable_endpoint_is_retried_then_fails(tmp_path):
    """An endpoint nobody listens on is the platform's failure: the start is
    retried up to RetryStrategy.MaximumRetryAttempts, then the job Fails as
    an InternalServerError naming the URI and the cause, counted as a
    RetryableError."""
    port = free_port()  # closed again: connections are refused
    d = start_hpod(tmp_path, "http://127.0.0.1:%d" % port)
    t, jobs = tune(d, "unreach", [channel("train", "s3://bkt/data/")], "file://" +
                   private_dir("output"), max_jobs=1, retries=3)
    assert t["HyperParameterTuningJobStatus"] in TERMINAL
    assert [j["TrainingJobStatus"] for j in jobs] == ["Failed"], jobs
    reason = jobs[0]["FailureReason"]
    assert reason.startswith("InternalServerError: "), reason
    assert "s3://bkt/data/" in reason and "127.0.0.1" in reason, reason
    assert "connect" in reason.lower(), reason
    assert "(4 attempts)" in reason, reason
    c = t["TrainingJobStatusCounters"]
    assert (c["RetryableError"], c["NonRetryableError"]) == (1, 0), c
    log = open(os.path.join(d.tmp, "hpod.log"), errors="replace").read()
    assert log.count("could not start for the platform's sake") == 3, log[-5000:]


def test_unreachable_output_is_retried_then_fails(tmp_path):
    """Storing model.tar.gz at an S3 endpoint nobody listens on: hpo-pack
    reports S3 unavailable, the runner's exit.json marks the platform's
    failure, and the training job is relaunched, then Fails as an
    InternalServerError naming the output."""
    port = free_port()
    d = start_hpod(tmp_path, "http://127.0.0.1:%d" % port)
    t, jobs = tune(d, "unreachout", None, "s3://bkt/out", max_jobs=1, retries=1)
    assert [j["TrainingJobStatus"] for j in jobs] == ["Failed"], jobs
    reason = jobs[0]["FailureReason"]
    assert reason.startswith("InternalServerError: "), reason
    assert "s3://bkt/out" in reason and "(2 attempts)" in reason, reason
    c = t["TrainingJobStatusCounters"]
    assert (c["RetryableError"], c["NonRetryableError"]) == (1, 0), c
    log = open(os.path.join(d.tmp, "hpod.log"), errors="replace").read()
    assert "failed for the platform's sake; relaunching it" in log, log[-5000:]


def test_requests_s3_rules(tmp_path):
    """s3:// channels and outputs are accepted; Pipe mode, unknown data types
    and a ManifestFile over file:// are refused naming the member."""
    d = start_hpod(tmp_path, "http://127.0.0.1:1")
    base = definition([channel("train", "s3://bkt/x/")], "s3://bkt/out")

    def create(body, name):
        body = json.loads(json.dumps(body))
        body["HyperParameters"] = body.pop("StaticHyperParameters")
        body["TrainingJobName"] = name
        return call(d, "CreateTrainingJob", body, ok=False)

    st, js = create(base, "ok1")
    assert st == 200, js
    pipe = json.loads(json.dumps(base))
    pipe["AlgorithmSpecification"]["TrainingInputMode"] = "Pipe"
    st, js = create(pipe, "pipe1")
    assert st == 400 and "TrainingInputMode" in js["message"] and "Pipe" in js["message"], js
    mf = json.loads(json.dumps(base))
    mf["InputDataConfig"] = [channel("train", "file:///tmp", "ManifestFile")]
    st, js = create(mf, "mf1")
    assert st == 400 and "ManifestFile" in js["message"], js
    nb = json.loads(json.dumps(base))
    nb["InputDataConfig"] = [channel("train", "s3:///nobucket")]
    st, js = create(nb, "nb1")
    assert st == 400 and "S3Uri" in js["message"], js


def test_slow_download_does_not_hold_up_other_tuning_jobs(tmp_path, s3rver, s3_proxy):
    """While one tuning job's channel downloads slowly (every object GET
    waits 4 s at the proxy), another tuning job without S3 input gets its
    suggestions and runs its training jobs to the end: the download runs on
    its own worker, not on the engine's."""
    s3 = s3rver.client()
    put(s3, "slowbkt", {"d/%d" % i: b"x" for i in range(6)})
    s3_proxy.delay["/slowbkt/d/"] = 4
    d = start_hpod(tmp_path, s3_proxy.url)
    call(d, "CreateHyperParameterTuningJob", {
        "HyperParameterTuningJobName": "slow",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "accuracy"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 1, "MaxParallelTrainingJobs": 1},
            "ParameterRanges": {"ContinuousParameterRanges": [
                {"Name": "x", "MinValue": "0", "MaxValue": "1"}]}},
        "TrainingJobDefinition": definition([channel("train", "s3://slowbkt/d/")],
                                            "file://" + private_dir("output"))})
    deadline = time.time() + 20
    while not s3_proxy.gets_of("slowbkt", "d/0") and time.time() < deadline:
        time.sleep(0.05)
    assert s3_proxy.gets_of("slowbkt", "d/0"), "the slow download did not start"
    inp = tmp_path / "local-in"
    inp.mkdir()
    (inp / "f.txt").write_bytes(b"local")
    t0 = time.time()
    t, jobs = tune(d, "fast", [{"ChannelName": "train", "DataSource": {"S3DataSource": {
        "S3DataType": "S3Prefix", "S3Uri": "file://%s" % inp}}}],
        "file://" + private_dir("output"), max_jobs=3, parallel=3, timeout=60)
    fast_done = time.time()
    assert [j["TrainingJobStatus"] for j in jobs] == ["Completed"] * 3, jobs
    _, slow = call(d, "DescribeHyperParameterTuningJob", {"HyperParameterTuningJobName": "slow"})
    # 6 objects on 4 connections at 4 s each: at least 8 s of download
    assert slow["HyperParameterTuningJobStatus"] == "InProgress", slow
    _, js = call(d, "ListTrainingJobsForHyperParameterTuningJob",
                 {"HyperParameterTuningJobName": "slow"})
    name = js["TrainingJobSummaries"][0]["TrainingJobName"]
    _, j = call(d, "DescribeTrainingJob", {"TrainingJobName": name})
    assert j["SecondaryStatus"] == "Downloading", (j, fast_done - t0)


def test_account_s3_credentials_sign_its_transfers(tmp_path, s3rver, monkeypatch):
    """An account's s3_credentials (credentials file) sign its jobs' S3
    transfers instead of the daemon's keys. The daemon's own key is unknown
    to the S3 server: account A, with the server's key as its own, downloads
    its channel and stores model.tar.gz; account B, without keys of its own,
    fails with the server's InvalidAccessKeyId."""
    from test_current_api import KEY_A, KEY_B, OTHER, SECRET_A, SECRET_B, client
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "OPENHPODAEMONKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-known-to-s3rver")
    s3 = s3rver.client()
    put(s3, "acctabkt", {"data/a.csv": b"1,2\n"})
    put(s3, "acctbbkt", {"data/b.csv": b"3,4\n"})
    creds = tmp_path / "credentials.json"
    fd = os.open(str(creds), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"credentials": [
            {"access_key_id": KEY_A, "secret_access_key": SECRET_A, "account_id": ACCOUNT,
             "s3_roots": ["s3://acctabkt"],
             "s3_credentials": {"access_key_id": KEY, "secret_access_key": KEY}},
            {"access_key_id": KEY_B, "secret_access_key": SECRET_B, "account_id": OTHER,
             "s3_roots": ["s3://acctbbkt"]}]}, f)
    with open(tmp_path / "images.json", "w") as f:
        json.dump({"s3trainer:latest": [sys.executable, TRAINER]}, f)
    d = Hpod(str(tmp_path), ["--s3-endpoint", s3rver.url, "--credentials", str(creds)]).start()
    ends = {}
    for who, key, secret, bkt in (("a", KEY_A, SECRET_A, "acctabkt"),
                                  ("b", KEY_B, SECRET_B, "acctbbkt")):
        sm = client(d, key, secret)
        body = definition([channel("train", "s3://%s/data/" % bkt)], "s3://%s/out" % bkt)
        body["RoleArn"] = "arn:aws:iam::%s:role/openhpo" % (ACCOUNT if who == "a" else OTHER)
        body["HyperParameters"] = body.pop("StaticHyperParameters")
        sm.create_training_job(TrainingJobName="acct-" + who, **body)
        deadline = time.time() + 60
        while time.time() < deadline:
            j = sm.describe_training_job(TrainingJobName="acct-" + who)
            if j["TrainingJobStatus"] in TERMINAL:
                break
            time.sleep(0.1)
        ends[who] = j
    a, b = ends["a"], ends["b"]
    assert a["TrainingJobStatus"] == "Completed", (a, d.read_log())
    model = tar_members(get(s3, "acctabkt", "out/acct-a/output/model.tar.gz"))
    assert json.loads(model["listing.json"]) == {"train": {"a.csv": sha(b"1,2\n")}}
    assert b["TrainingJobStatus"] == "Failed", b
    assert "InvalidAccessKeyId" in b["FailureReason"], b["FailureReason"]
    assert "not-known-to-s3rver" not in d.read_log() and KEY_A not in d.read_log()
