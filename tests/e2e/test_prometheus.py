"""End-to-end: a real Prometheus server (Debian's prometheus, started here on
a loopback port with its own config and TSDB directory) scrapes hpod's
GET /metrics every second with a bearer token; tuning jobs run through boto3;
PromQL queries over Prometheus' HTTP API show the counters and gauges move.
hpod's own /metrics text is also checked line by line (promtool check
metrics, and a parser here), and its log, with --log-format json, is one JSON
object per line."""
import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import boto3
import pytest

from conftest import ACCOUNT, Hpod, private_dir

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
TOKEN = "openhpo-metrics-token-0123456789abcdef"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def scrape(d, token=TOKEN):
    headers = {"Authorization": "Bearer " + token} if token is not None else {}
    st, hd, body = d.raw("/metrics", None, headers=headers, method="GET")
    return st, hd, body.decode()


# The exposition format, line by line (text format 0.0.4).
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{%s(?:,%s)*\})? '
                    r'([-+]?[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|[-+]?Inf|NaN)$' % (LABEL, LABEL))
HELP = re.compile(r'^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$')
TYPE = re.compile(r'^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$')


def parse_exposition(text):
    """{(name, labels-text): value}, failing on any line the format does not
    allow, a sample outside its TYPE's family, a family twice, a counter not
    named _total, histogram buckets that are not cumulative."""
    assert text.endswith("\n")
    samples, families, family, kind, last_bucket = {}, set(), None, None, None
    for line in text.splitlines():
        if line.startswith("# HELP "):
            assert HELP.match(line), line
            continue
        m = TYPE.match(line)
        if m:
            family, kind = m.group(1), m.group(2)
            assert family not in families, "family twice: " + family
            assert kind != "counter" or family.endswith("_total"), family
            families.add(family)
            last_bucket = None
            continue
        m = SAMPLE.match(line)
        assert m, "bad line: %r" % line
        name, labels, value = m.group(1), m.group(2) or "", float(m.group(3))
        allowed = {family} if kind != "histogram" else {
            family + "_bucket", family + "_sum", family + "_count"}
        assert name in allowed, (line, family)
        if name.endswith("_bucket"):
            assert last_bucket is None or value >= last_bucket, line
            last_bucket = None if 'le="+Inf"' in labels else value
        assert (name, labels) not in samples, "sample twice: " + line
        samples[(name, labels)] = value
    return samples, families


class Prometheus:
    def __init__(self, tmp, target, token_file):
        self.tmp = tmp
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.config = os.path.join(tmp, "prometheus.yml")
        with open(self.config, "w") as f:
            f.write("""global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: hpod
    metrics_path: /metrics
    authorization:
      type: Bearer
      credentials_file: %s
    static_configs:
      - targets: ['%s']
""" % (token_file, target))
        self.log = open(os.path.join(tmp, "prometheus.log"), "ab")
        self.proc = subprocess.Popen(
            [PROMETHEUS, "--config.file=" + self.config,
             "--storage.tsdb.path=" + os.path.join(tmp, "tsdb"),
             "--web.listen-address=127.0.0.1:%d" % self.port],
            stdout=self.log, stderr=self.log)
        deadline = time.time() + 60
        while time.time() < deadline:
            assert self.proc.poll() is None, "prometheus exited: " + self.read_log()
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.1)
        raise AssertionError("prometheus not ready: " + self.read_log())

    def read_log(self):
        return open(os.path.join(self.tmp, "prometheus.log"), errors="replace").read()[-4000:]

    def api(self, path, **params):
        url = self.url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        with urllib.request.urlopen(url, timeout=10) as r:
            js = json.loads(r.read())
        assert js["status"] == "success", js
        return js["data"]

    def query(self, q):
        """The instant vector of PromQL q: {labels-tuple: value}."""
        data = self.api("/api/v1/query", query=q)
        assert data["resultType"] == "vector", data
        return {tuple(sorted(r["metric"].items())): float(r["value"][1])
                for r in data["result"]}

    def scalar(self, q):
        """The one value of q (a sum(), say), or None when q is empty."""
        v = self.query(q)
        assert len(v) <= 1, v
        return next(iter(v.values())) if v else None

    def wait(self, q, pred, timeout=30):
        """Polls q until pred(value) holds; returns the value."""
        deadline, v = time.time() + timeout, None
        while time.time() < deadline:
            v = self.scalar(q)
            if v is not None and pred(v):
                return v
            time.sleep(0.25)
        raise AssertionError("%s: %s after %ss; targets: %s" % (
            q, v, timeout, self.api("/api/v1/targets")))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def tuning_body(name, static, max_jobs, parallel):
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "accuracy"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": max_jobs,
                               "MaxParallelTrainingJobs": parallel},
            "ParameterRanges": {
                "ContinuousParameterRanges": [
                    {"Name": "x", "MinValue": "-5", "MaxValue": "10", "ScalingType": "Linear"}],
                "IntegerParameterRanges": [
                    {"Name": "n", "MinValue": "1", "MaxValue": "15", "ScalingType": "Linear"}],
                "CategoricalParameterRanges": [{"Name": "kind", "Values": ["a", "b", "c"]}],
            },
        },
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {
                "TrainingImage": "trainer:latest", "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": "accuracy", "Regex": "accuracy=([-+0-9.eE]+)"}]},
            "RoleArn": "arn:aws:iam::%s:role/openhpo" % ACCOUNT,
            "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": "file://" + private_dir("input")}}}],
            "OutputDataConfig": {"S3OutputPath": "file://" + private_dir("output")},
            "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                               "VolumeSizeInGB": 1},
            "StaticHyperParameters": static,
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        },
    }


def wait_tuning(sm, name, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        d = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        if d["HyperParameterTuningJobStatus"] not in ("InProgress", "Stopping"):
            return d
        time.sleep(0.2)
    raise AssertionError("tuning job %s still %s" % (name, d["HyperParameterTuningJobStatus"]))


@pytest.fixture
def hpod_metrics(tmp_path):
    token_file = write_private(str(tmp_path / "metrics.token"), TOKEN + "\n")
    d = Hpod(str(tmp_path), ["--metrics-token-file", token_file, "--log-format", "json",
                             "--max-running", "7"]).start()
    d.token_file = token_file
    yield d
    d.cleanup()


def test_prometheus_scrapes_counters_moving(hpod_metrics, tmp_path):
    d = hpod_metrics
    # Without the token, or with another, /metrics is refused; with it, valid text.
    assert scrape(d, token=None)[0] == 401
    assert scrape(d, token=TOKEN[:-1] + "X")[0] == 401
    st, hd, text = scrape(d)
    assert st == 200, text
    assert hd["Content-Type"].startswith("text/plain; version=0.0.4")
    before, families = parse_exposition(text)
    assert before[("openhpo_training_jobs_max_running", "")] == 7
    assert before[("openhpo_training_jobs_launched_total", '{backend="local"}')] == 0

    prom = Prometheus(str(tmp_path), d.url[len("http://"):], d.token_file)
    try:
        prom.wait('up{job="hpod"}', lambda v: v == 1)
        assert prom.scalar('sum(openhpo_training_jobs_launched_total{job="hpod"})') == 0
        assert prom.scalar('openhpo_training_jobs_max_running{job="hpod"}') == 7

        sm = boto3.client("sagemaker", endpoint_url=d.url, region_name="us-east-1",
                          aws_access_key_id="AKIAUNUSED", aws_secret_access_key="unused")
        # Four jobs that succeed (each takes ~2 s, two at a time: Prometheus
        # sees them running), two that crash (exit code 3).
        sm.create_hyper_parameter_tuning_job(
            **tuning_body("good", {"mode": "normal", "sleep": "2"}, 4, 2))
        sm.create_hyper_parameter_tuning_job(**tuning_body("bad", {"mode": "crash"}, 2, 1))
        # One that fails with its own reason (output/failure).
        sm.create_hyper_parameter_tuning_job(**tuning_body("told", {"mode": "failurefile"}, 1, 1))
        prom.wait('sum(openhpo_training_jobs_active{job="hpod",backend="local"})',
                  lambda v: v >= 1)
        assert wait_tuning(sm, "good")["HyperParameterTuningJobStatus"] == "Completed"
        assert wait_tuning(sm, "bad")["HyperParameterTuningJobStatus"] == "Failed"
        assert wait_tuning(sm, "told")["HyperParameterTuningJobStatus"] == "Failed"

        q = 'openhpo_training_jobs_launched_total{job="hpod",backend="local"}'
        assert prom.wait(q, lambda v: v >= 7) == 7
        assert prom.wait('openhpo_training_jobs_ended_total{job="hpod",backend="local",'
                         'status="Completed"}', lambda v: v == 4) == 4
        assert prom.wait('openhpo_training_jobs_failed_total{job="hpod",backend="local",'
                         'reason="exit_code"}', lambda v: v == 2) == 2
        assert prom.wait('openhpo_training_jobs_failed_total{job="hpod",backend="local",'
                         'reason="reported"}', lambda v: v == 1) == 1
        assert prom.scalar('sum(openhpo_training_jobs_failed_total{job="hpod",'
                           'reason!~"exit_code|reported"})') == 0
        assert prom.scalar('sum(openhpo_training_jobs_ended_total{job="hpod",'
                           'status="Failed"})') == 3
        # Jobs by status: the store's counts now, and what was running meanwhile.
        assert prom.wait('openhpo_training_jobs{job="hpod",status="Completed"}',
                         lambda v: v == 4) == 4
        assert prom.wait('openhpo_tuning_jobs{job="hpod",status="Completed"}',
                         lambda v: v == 1) == 1
        assert prom.wait('openhpo_tuning_jobs{job="hpod",status="Failed"}',
                         lambda v: v == 2) == 2
        assert prom.wait('openhpo_training_jobs_running{job="hpod"}', lambda v: v == 0) == 0
        peak = prom.scalar('max_over_time(openhpo_training_jobs_running{job="hpod"}[5m])')
        assert 1 <= peak <= 4, peak  # 2 + 1 + 1 parallel at most
        assert prom.scalar('max_over_time(openhpo_training_jobs{job="hpod",'
                           'status="InProgress"}[5m])') >= 1
        assert prom.scalar('min_over_time(openhpo_tuning_jobs{job="hpod",'
                           'status="Completed"}[5m])') == 0
        # API requests by operation and code, and their latency.
        assert prom.wait('sum(openhpo_api_requests_total{job="hpod",'
                         'operation="CreateHyperParameterTuningJob",code="200"})',
                         lambda v: v == 3) == 3
        described = prom.wait('sum(openhpo_api_requests_total{job="hpod",'
                              'operation="DescribeHyperParameterTuningJob",code="200"})',
                              lambda v: v >= 2)
        assert prom.scalar('sum(openhpo_api_request_duration_seconds_count{job="hpod",'
                           'operation="DescribeHyperParameterTuningJob"})') >= described
        # Suggestions: one per training job of the (Bayesian) tuning jobs.
        assert prom.wait('sum(openhpo_suggestion_duration_seconds_count{job="hpod",'
                         'strategy="Bayesian"})', lambda v: v >= 7) >= 7
        assert prom.scalar('histogram_quantile(0.5, sum by (le) (rate('
                           'openhpo_suggestion_duration_seconds_bucket{job="hpod"}[5m])))') >= 0
        assert prom.scalar('openhpo_store_size_bytes{job="hpod"}') > 0
        # A request the API refuses is counted under its own code.
        sm_err = None
        try:
            sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="nosuchjob")
        except sm.exceptions.ResourceNotFound as exc:
            sm_err = exc
        assert sm_err is not None
        prom.wait('sum(openhpo_api_requests_total{job="hpod",'
                  'operation="DescribeHyperParameterTuningJob",code="400"})', lambda v: v >= 1)
    finally:
        prom.stop()

    # hpod's own text: promtool's check (Prometheus' own parser and linter)
    # and the parser above, with the values Prometheus showed.
    st, _, text = scrape(d)
    assert st == 200
    after, _ = parse_exposition(text)
    assert after[("openhpo_training_jobs_launched_total", '{backend="local"}')] == 7
    assert after[("openhpo_training_jobs_failed_total",
                  '{backend="local",reason="exit_code"}')] == 2
    assert after[("openhpo_tuning_jobs", '{status="Completed"}')] == 1
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, (r.stdout, r.stderr)

    # --log-format json: every line of hpod's log is one JSON object; the
    # request lines carry their fields.
    lines = open(os.path.join(str(tmp_path), "hpod.log"), errors="strict").read().splitlines()
    assert lines
    requests = []
    for line in lines:
        js = json.loads(line)
        assert {"time", "level", "msg"} <= set(js), line
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", js["time"]), line
        if js["msg"].startswith("http: "):
            requests.append(js)
    scrapes = [j for j in requests if j["path"] == "/metrics"]
    assert len(scrapes) >= 5  # Prometheus' scrapes, every second
    assert {j["status"] for j in scrapes} == {200, 401}
    creates = [j for j in requests if j.get("target") == "SageMaker.CreateHyperParameterTuningJob"]
    assert len(creates) == 3 and all(j["status"] == 200 and j["method"] == "POST" for j in creates)
    assert all(re.match(r"^[0-9a-f-]{36}$", j["request_id"]) for j in requests)


def test_metrics_open_without_token_file(hpod):
    """Without --metrics-token-file, /metrics is open like /health; a POST is
    refused; the text is valid."""
    st, hd, text = scrape(hpod, token=None)
    assert st == 200
    samples, families = parse_exposition(text)
    assert "openhpo_api_requests_total" in families
    assert samples[("openhpo_training_jobs_running", "")] == 0
    assert samples[("openhpo_training_jobs_max_running", "")] == 64
    st, hd, _ = hpod.raw("/metrics", b"", headers={}, method="POST")
    assert st == 405 and hd["Allow"] == "GET, HEAD"
    # Requests counted: /metrics and /health are not API requests.
    hpod.call("DescribeTuningJob", {"AwsAccountId": ACCOUNT, "TuningJobName": "nope"})
    samples, _ = parse_exposition(scrape(hpod, token=None)[2])
    assert samples[("openhpo_api_requests_total",
                    '{operation="DescribeTuningJob",code="404"}')] == 1
    assert not [k for k in samples if k[0] == "openhpo_api_requests_total" and
                "metrics" in k[1].lower()]


def test_metrics_token_file_checked(tmp_path):
    """The token file must be private and hold a usable token; hpod refuses
    to start otherwise, naming the file."""
    hpod_bin = os.environ.get("HPOD_BIN", os.path.join(os.path.dirname(__file__), "..", "..",
                                                        "build", "hpod"))
    cases = [("open.token", TOKEN, 0o644, "must not be readable by others"),
             ("short.token", "abc", 0o600, "16 to 255 bytes"),
             ("space.token", "abc def ghi jkl mno", 0o600, "printable ASCII")]
    for name, text, mode, want in cases:
        path = str(tmp_path / name)
        with open(path, "w") as f:
            f.write(text + "\n")
        os.chmod(path, mode)
        r = subprocess.run([hpod_bin, "--listen", "127.0.0.1:0", "--data-dir",
                            str(tmp_path / "data"), "--metrics-token-file", path],
                           capture_output=True, text=True, timeout=20)
        assert r.returncode != 0 and want in r.stderr and path in r.stderr, (name, r.stderr)
    r = subprocess.run([hpod_bin, "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "d"),
                        "--log-format", "yaml"], capture_output=True, text=True, timeout=20)
    assert r.returncode == 2 and "--log-format is text or json" in r.stderr
