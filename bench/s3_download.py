"""S3 channel download throughput: openhpo beside `aws s3 cp --recursive`.

Starts s3rver (tests/e2e/s3_env.py installs it if missing), fills a bucket
with a data set (default: 200 objects of 256 KiB and 2 of 64 MiB), then, a
few times each:
  - openhpo: a CreateTrainingJob whose channel is the data set's prefix, on
    an hpod pointed at s3rver (--s3-endpoint); the time is the job's
    Downloading secondary status (its StartTime to the Training one's), so
    it covers listing, the parallel ranged download and linking into the job
    directory. Every run is a new training job: its own cache entry, a cold
    download;
  - aws: `/usr/bin/aws --endpoint-url URL s3 cp --recursive s3://bkt/ds/ DIR`
    into a fresh directory (Debian's awscli, default settings: 10 threads,
    8 MiB multipart chunks).
Prints the median seconds and MB/s of each. s3rver itself (node, one
process) is the bottleneck of both on loopback; the figures compare the
clients against the same server, not S3.

  /usr/bin/python3 bench/s3_download.py [--small N] [--small-kib K] [--big N]
      [--big-mib M] [--runs R]
"""
import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
import s3_env  # noqa: E402

HPOD = os.environ.get("HPOD_BIN", os.path.join(HERE, "..", "build", "hpod"))


def call(url, op, body):
    import urllib.request
    req = urllib.request.Request(url + "/", data=json.dumps(body).encode(), headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "SageMaker." + op})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read() or b"{}")


def start_hpod(tmp, endpoint):
    images = os.path.join(tmp, "images.json")
    with open(images, "w") as f:
        json.dump({"noop:latest": [sys.executable, "-c", "pass"]}, f)
    port_file = os.path.join(tmp, "port")
    log = open(os.path.join(tmp, "hpod.log"), "ab")
    p = subprocess.Popen([HPOD, "--listen", "127.0.0.1:0", "--data-dir",
                          os.path.join(tmp, "data"), "--port-file", port_file, "--images", images,
                          "--s3-endpoint", endpoint], stdout=log, stderr=log)
    deadline = time.time() + 20
    while time.time() < deadline:
        if os.path.exists(port_file) and open(port_file).read().strip():
            return p, "http://127.0.0.1:%s" % open(port_file).read().strip()
        time.sleep(0.05)
    p.kill()
    raise RuntimeError("hpod did not start")


def openhpo_run(url, name, out):
    call(url, "CreateTrainingJob", {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": "noop:latest", "TrainingInputMode": "File"},
        "RoleArn": "arn:aws:iam::123456789012:role/openhpo",
        "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": "s3://benchbkt/ds/"}}}],
        "OutputDataConfig": {"S3OutputPath": "file://" + out},
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                           "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600}})
    deadline = time.time() + 600
    while time.time() < deadline:
        j = call(url, "DescribeTrainingJob", {"TrainingJobName": name})
        if j["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
            break
        time.sleep(0.05)
    if j["TrainingJobStatus"] != "Completed":
        raise RuntimeError("training job %s: %s" % (name, j.get("FailureReason")))
    t = {s["Status"]: s["StartTime"] for s in j["SecondaryStatusTransitions"]}
    return float(t["Training"]) - float(t["Downloading"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", type=int, default=200)
    ap.add_argument("--small-kib", type=int, default=256)
    ap.add_argument("--big", type=int, default=2)
    ap.add_argument("--big-mib", type=int, default=64)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    why = s3_env.ensure_s3rver()
    if why:
        print("s3 download: skipped: " + why)
        return
    tmp = tempfile.mkdtemp(prefix="s3bench")
    srv = s3_env.S3rver(tmp)
    hpod = None
    env = dict(os.environ, AWS_ACCESS_KEY_ID=s3_env.KEY, AWS_SECRET_ACCESS_KEY=s3_env.KEY,
               AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1")
    os.environ.update(AWS_ACCESS_KEY_ID=s3_env.KEY, AWS_SECRET_ACCESS_KEY=s3_env.KEY,
                      AWS_REGION="us-east-1")
    try:
        s3 = srv.client()
        s3.create_bucket(Bucket="benchbkt")
        rnd = random.Random(7)
        total = 0
        for i in range(a.small):
            body = rnd.randbytes(a.small_kib * 1024)
            s3.put_object(Bucket="benchbkt", Key="ds/small/%04d.bin" % i, Body=body)
            total += len(body)
        for i in range(a.big):
            path = os.path.join(tmp, "big")
            with open(path, "wb") as f:
                f.write(rnd.randbytes(a.big_mib << 20))
            s3.upload_file(path, "benchbkt", "ds/big/%d.bin" % i)
            total += a.big_mib << 20
            os.unlink(path)
        mb = total / 1e6
        hpod, url = start_hpod(tmp, srv.url)
        ours, theirs = [], []
        for r in range(a.runs):
            ours.append(openhpo_run(url, "bench-%d" % r, os.path.join(tmp, "out")))
            shutil.rmtree(os.path.join(tmp, "data", "jobs"), ignore_errors=True)
            dest = os.path.join(tmp, "aws-%d" % r)
            t0 = time.monotonic()
            subprocess.run(["/usr/bin/aws", "--endpoint-url", srv.url, "s3", "cp", "--recursive",
                            "--only-show-errors", "s3://benchbkt/ds/", dest], check=True, env=env)
            theirs.append(time.monotonic() - t0)
            shutil.rmtree(dest)
        print("data set: %d x %d KiB + %d x %d MiB = %.1f MB, s3rver %s on loopback, %d runs"
              % (a.small, a.small_kib, a.big, a.big_mib, mb, s3_env.S3RVER_VERSION, a.runs))
        print("%-34s %10s %10s" % ("client", "median s", "MB/s"))
        for label, v in (("openhpo channel (Downloading)", ours),
                         ("aws s3 cp --recursive", theirs)):
            m = statistics.median(v)
            print("%-34s %10.2f %10.1f" % (label, m, mb / m))
    finally:
        if hpod:
            hpod.terminate()
            hpod.wait(20)
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
