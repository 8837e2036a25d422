"""Fixtures for end-to-end tests: each test gets a real hpod on an ephemeral
loopback port with its own temporary data dir, and talks HTTP to it.

Each test also gets private "S3" directories (under its tmp_path) that
job_request() uses for its input channel and its output path, so no two tests
(nor two suites running at once) share a path under /tmp. When a test ends,
the training jobs of the daemons it started are stopped, so none lingers into
the next tests."""
import json
import os
import pwd
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
POLL = 0.01  # seconds between two looks at something the daemon does

# The running test's private directories (set by the autouse fixture
# private_s3 around each test; the suite runs tests one at a time).
_private = {"input": None, "output": None}
# Every Hpod made, so that a test's leftovers can be cleaned up after it.
_created = []


class Hpod:
    def __init__(self, tmp, extra_args=()):
        self.tmp = tmp
        self.data = os.path.join(tmp, "data")
        self.port_file = os.path.join(tmp, "port")
        self.images = os.path.join(tmp, "images.json")
        self.extra_args = list(extra_args)
        if "--credentials" in self.extra_args and "--run-as" not in self.extra_args:
            # Several tenants: jobs never run as the daemon's user unless the
            # operator names one. These tests name the user running them.
            self.extra_args += ["--run-as", pwd.getpwuid(os.getuid()).pw_name]
        self.proc = None
        self.url = None
        _created.append(self)
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
            time.sleep(POLL)
        raise RuntimeError("hpod did not become ready; log: %s" % self.read_log())

    def read_log(self, access=True, cap=5000):
        """The log's last cap characters; access=False leaves out the requests'
        access lines (a test's polling would push everything else out)."""
        try:
            text = open(os.path.join(self.tmp, "hpod.log"), errors="replace").read()
        except OSError:
            return ""
        if not access:
            text = "".join(l for l in text.splitlines(True) if " info: http: " not in l)
        return text[-cap:]

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=timeout)
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        return rc

    def runner_pids(self):
        """Pids of the hpo-runners of this daemon's data dir still alive. A
        runner's own child carries its command line until it execs (the
        program's fork, hpo-pack's, or LeakSanitizer's tracer as an ASan
        runner exits): it is left out, as killing it is not killing a runner
        (and a killed tracer leaves LeakSanitizer spinning forever)."""
        found = {}
        mark = os.path.join(self.data, "jobs", "").encode()
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                argv = open("/proc/%s/cmdline" % pid, "rb").read().split(b"\0")
                stat = open("/proc/%s/stat" % pid, "rb").read()
            except OSError:
                continue
            if argv and argv[0].endswith(b"hpo-runner") and mark in b" ".join(argv):
                found[int(pid)] = int(stat.rsplit(b")", 1)[1].split()[1])  # its parent
        return [pid for pid, ppid in found.items() if ppid not in found]

    def cleanup(self):
        """Stops the daemon and asks its runners to stop their training jobs
        (SIGTERM: each runner stops its job's process group and exits)."""
        self.stop()
        for pid in self.runner_pids():
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

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
            time.sleep(POLL)
        raise AssertionError("%s not in %s after %ss: %s\nlog: %s" % (
            name, statuses, timeout, d, self.read_log(access=False)))

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


@pytest.fixture(autouse=True)
def private_s3(tmp_path):
    """Private input and output directories for job_request(); afterwards,
    the daemons this test made under its tmp_path are cleaned up."""
    inp, out = tmp_path / "s3-input", tmp_path / "s3-output"
    inp.mkdir()
    out.mkdir()
    _private.update(input=str(inp), output=str(out))
    made = len(_created)
    yield _private
    _private.update(input=None, output=None)
    for d in _created[made:]:
        if os.path.commonpath([d.tmp, str(tmp_path)]) == str(tmp_path):
            d.cleanup()
    del _created[made:]


@pytest.fixture
def hpod(tmp_path):
    d = Hpod(str(tmp_path)).start()
    yield d
    d.cleanup()


def private_dir(kind, s3_dir=None):
    """The "input" or "output" dir of job_request(): under s3_dir when given
    (for a fixture wider than one test), else the running test's own."""
    if s3_dir is not None:
        path = os.path.join(str(s3_dir), "s3-" + kind)
        os.makedirs(path, exist_ok=True)
        return path
    assert _private[kind], "job_request() outside a test needs s3_dir"
    return _private[kind]


def job_request(name="job1", account=ACCOUNT, max_jobs=10, parallel=2, image="trainer:latest",
                static=None, ranges=None, objective=("accuracy", "Maximize"), max_runtime=600,
                metrics=None, strategy=None, channels=None, s3_dir=None):
    """A valid CreateTuningJob body; tests mutate it to make bad ones. Its
    input channel and output path are private to the test (see private_s3),
    or under s3_dir."""
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
                "DataSource": {"S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": "file://" + private_dir("input", s3_dir)}}}],
            "OutputDataConfig": {"S3OutputPath": "file://" + private_dir("output", s3_dir)},
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
