"""Fixtures for end-to-end tests: each test gets a real hpod on an ephemeral
loopback port with its own temporary data dir, and talks HTTP to it."""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
HPOD = os.environ.get("HPOD_BIN", os.path.join(HERE, "..", "..", "build", "hpod"))
TRAINER = os.path.join(HERE, "trainer.py")
ACCOUNT = "123456789012"


class Hpod:
    def __init__(self, tmp, extra_args=()):
        self.tmp = tmp
        self.data = os.path.join(tmp, "data")
        self.port_file = os.path.join(tmp, "port")
        self.images = os.path.join(tmp, "images.json")
        self.extra_args = list(extra_args)
        self.proc = None
        self.url = None
        if not os.path.exists(self.images):
            with open(self.images, "w") as f:
                json.dump({"trainer:latest": [sys.executable, TRAINER]}, f)

    def start(self):
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        self.log = open(os.path.join(self.tmp, "hpod.log"), "ab")
        self.proc = subprocess.Popen(
            [HPOD, "--listen", "127.0.0.1:0", "--data-dir", self.data,
             "--port-file", self.port_file, "--images", self.images] + self.extra_args,
            stdout=self.log, stderr=self.log)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("hpod exited with %s; log: %s" % (
                    self.proc.returncode, self.read_log()))
            if os.path.exists(self.port_file):
                port = open(self.port_file).read().strip()
                if port:
                    self.url = "http://127.0.0.1:%s" % port
                    try:
                        with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                            if r.status == 200:
                                return self
                    except (urllib.error.URLError, ConnectionError):
                        pass
            time.sleep(0.05)
        raise RuntimeError("hpod did not become ready; log: %s" % self.read_log())

    def read_log(self):
        try:
            return open(os.path.join(self.tmp, "hpod.log"), errors="replace").read()[-5000:]
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=timeout)
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        return rc

    def raw(self, path, data, headers=None, method="POST"):
        """Sends raw bytes; returns (status, headers dict, body bytes)."""
        h = {"Content-Type": "application/json"}
        if headers is not None:
            h = headers
        req = urllib.request.Request(self.url + path, data=data, headers=h, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def call(self, op, body):
        """POST /<op> with a JSON body; returns (status, json or None, headers)."""
        st, hd, raw = self.raw("/" + op, json.dumps(body).encode())
        return st, (json.loads(raw) if raw else None), hd

    def ok(self, op, body):
        st, js, _ = self.call(op, body)
        assert st == 200, (op, st, js)
        return js

    def describe(self, name, account=ACCOUNT):
        return self.ok("DescribeTuningJob", {"AwsAccountId": account, "TuningJobName": name})

    def wait_status(self, name, statuses, timeout=60, account=ACCOUNT):
        deadline = time.time() + timeout
        while time.time() < deadline:
            d = self.describe(name, account)
            if d["TuningJobStatus"] in statuses:
                return d
            time.sleep(0.1)
        raise AssertionError("%s not in %s after %ss: %s\nlog: %s" % (
            name, statuses, timeout, d, self.read_log()))

    def training_jobs(self, name, account=ACCOUNT, **kw):
        out, token = [], None
        while True:
            body = {"AwsAccountId": account, "TuningJobName": name, "MaxResults": 100}
            body.update(kw)
            if token:
                body["NextToken"] = token
            js = self.ok("ListTrainingJobsForTuningJob", body)
            out += js["TrainingJobSummaries"]
            token = js.get("NextToken")
            if not token:
                return out


@pytest.fixture
def hpod(tmp_path):
    d = Hpod(str(tmp_path)).start()
    yield d
    d.stop()


def job_request(name="job1", account=ACCOUNT, max_jobs=10, parallel=2, image="trainer:latest",
                static=None, ranges=None, objective=("accuracy", "Maximize"), max_runtime=600,
                metrics=None, strategy=None, channels=None):
    """A valid CreateTuningJob body; tests mutate it to make bad ones."""
    if ranges is None:
        ranges = {
            "ContinuousParameterRanges": [
                {"Name": "x", "MinValue": "-5", "MaxValue": "10", "Type": "Continuous"}],
            "IntegerParameterRanges": [
                {"Name": "n", "MinValue": "0", "MaxValue": "15", "Type": "Integer"}],
            "CategoricalParameterRanges": [
                {"Name": "kind", "Values": ["a", "b", "c"], "Type": "Categorical"}],
        }
    body = {
        "AwsAccountId": account,
        "TuningJobName": name,
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {
                "TrainingImage": image,
                "TrainingInputMode": "File",
                "MetricDefinitions": metrics if metrics is not None else [
                    {"Name": "accuracy", "Regex": "accuracy=([-+0-9.eE]+)"},
                    {"Name": "loss", "Regex": "loss: ([-+0-9.eE]+)"}],
            },
            "InputDataConfig": channels if channels is not None else [{
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                "S3Uri": "file:///tmp"}}}],
            "OutputDataConfig": {"S3OutputPath": "file:///tmp/openhpo-out"},
            "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m4.xlarge",
                               "VolumeSizeInGB": 1},
            "RoleArn": "arn:aws:iam::123456789012:role/openhpo",
            "StaticHyperParameters": static if static is not None else {"mode": "normal"},
            "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
        },
        "TuningJobConfig": {
            "ParameterRanges": ranges,
            "ResourceLimits": {"MaxNumberOfTrainingJobs": max_jobs,
                               "MaxParallelTrainingJobs": parallel},
            "TuningJobObjective": {"MetricName": objective[0], "Type": objective[1]},
        },
    }
    if strategy:
        body["TuningJobConfig"]["Strategy"] = strategy
    return body
