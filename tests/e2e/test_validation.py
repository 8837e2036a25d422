"""End-to-end: request validation of the 2017 API.

Every constraint of the spec (shared/spec/sagemaker-hpo-2017-11-08/) and every
semantic rule of validate_create_tuning_job() gets a bad request here, sent
over HTTP to a real hpod. Each must come back as

    400, x-amzn-ErrorType: ValidationError,
    {"__type": "ValidationError", "message": "<naming the field>"}

and must leave nothing behind (DescribeTuningJob -> 404 ResourceNotFound).
Also: malformed JSON, Content-Type, the 1 MiB body cap, the nesting cap,
unknown fields (ignored), and a check that src/models/hpo-2017-11-08.json
states exactly the constraints the spec's .md files state.

Most tests only need a daemon to refuse a request: they share one daemon per
module (refusing_hpod), which after each test must still be running and hold
no tuning job at all — otherwise the test errors and the next one gets a
fresh daemon. Tests that must be accepted share another (accepting_hpod),
each under a name of its own; "job1" is never created there, so the refusals
sent to it can still check that "job1" was not stored.
"""
import copy
import http.client
import itertools
import json
import os
import re
import urllib.parse

import pytest

from conftest import ACCOUNT, Hpod, job_request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
MODEL = os.path.join(ROOT, "src", "models", "hpo-2017-11-08.json")
SPEC_DIRS = [os.path.join(ROOT, "..", "shared", "spec", "sagemaker-hpo-2017-11-08"),
             "/work/shared/spec/sagemaker-hpo-2017-11-08"]

MIB = 1024 * 1024
DEL = object()  # a mutation that deletes the member

TJD = "TrainingJobDefinition"
ALGO = TJD + ".AlgorithmSpecification"
MDS = ALGO + ".MetricDefinitions"
CH0 = TJD + ".InputDataConfig[0]"
S3DS = CH0 + ".DataSource.S3DataSource"
OUT = TJD + ".OutputDataConfig"
RES = TJD + ".ResourceConfig"
TJC = "TuningJobConfig"
PR = TJC + ".ParameterRanges"
CPR = PR + ".ContinuousParameterRanges"
IPR = PR + ".IntegerParameterRanges"
KPR = PR + ".CategoricalParameterRanges"
LIM = TJC + ".ResourceLimits"
OBJ = TJC + ".TuningJobObjective"


# ---------------------------------------------------------------- helpers

def _steps(path):
    """'A.B[0].C' -> ['A', 'B', 0, 'C']."""
    out = []
    for part in path.split("."):
        m = re.fullmatch(r"([^\[]*)((?:\[\d+\])*)", part)
        if m.group(1):
            out.append(m.group(1))
        out += [int(i) for i in re.findall(r"\[(\d+)\]", m.group(2))]
    return out


def mutate(body, path, value):
    """Returns a deep copy of body with `path` set to value (DEL: removed)."""
    body = copy.deepcopy(body)
    steps = _steps(path)
    cur = body
    for s in steps[:-1]:
        cur = cur[s]
    last = steps[-1]
    if value is DEL:
        del cur[last]
    elif isinstance(last, int) and last >= len(cur):
        cur.append(value)
    else:
        cur[last] = copy.deepcopy(value)
    return body


def send(hpod, path, data, content_type="application/json", extra_headers=None):
    """POSTs raw bytes with exactly these headers (urllib would add a
    Content-Type of its own). Returns (status, headers lower-cased, body)."""
    u = urllib.parse.urlparse(hpod.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        headers = {"Content-Length": str(len(data))}
        if content_type is not None:
            headers["Content-Type"] = content_type
        headers.update(extra_headers or {})
        try:
            conn.request("POST", path, body=data, headers=headers)
        except (BrokenPipeError, ConnectionResetError):
            pass  # an over-cap body is answered at once and the connection closed: read that
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def assert_validation_error(status, headers, raw, *fields):
    """400 ValidationError whose message names each of `fields`; returns it."""
    assert status == 400, (status, raw[:500])
    headers = {k.lower(): v for k, v in headers.items()}
    assert headers.get("x-amzn-errortype") == "ValidationError", headers
    body = json.loads(raw)
    assert body["__type"] == "ValidationError", body
    assert isinstance(body["message"], str) and body["message"], body
    for f in fields:
        assert f in body["message"], (f, body["message"])
    return body["message"]


def assert_nothing_stored(hpod, name="job1"):
    st, js, hd = hpod.call("DescribeTuningJob", {"AwsAccountId": ACCOUNT, "TuningJobName": name})
    assert st == 404, (st, js)
    assert js["__type"] == "ResourceNotFound", js


def create_expect_error(hpod, body, *fields):
    st, hd, raw = send(hpod, "/CreateTuningJob", json.dumps(body).encode())
    msg = assert_validation_error(st, hd, raw, *fields)
    assert_nothing_stored(hpod)
    return msg


def small_job(**kw):
    """A valid body for cases that must be accepted: one short training job."""
    kw.setdefault("max_jobs", 1)
    kw.setdefault("parallel", 1)
    return job_request(**kw)


def create_expect_ok(hpod, body):
    st, hd, raw = send(hpod, "/CreateTuningJob", json.dumps(body).encode())
    assert st == 200, (st, raw[:500])
    assert hpod.describe(body["TuningJobName"])["TuningJobName"] == body["TuningJobName"]


# ------------------------------------------------------- the shared daemons

def _list_tuning_jobs(d):
    """Names of every tuning job of ACCOUNT (the current API's list)."""
    st, hd, raw = d.raw("/", b"{}", headers={"Content-Type": "application/x-amz-json-1.1",
                                             "X-Amz-Target":
                                             "SageMaker.ListHyperParameterTuningJobs"})
    assert st == 200, (st, raw[:500])
    return [j["HyperParameterTuningJobName"]
            for j in json.loads(raw)["HyperParameterTuningJobSummaries"]]


class _Shared:
    """One daemon kept across a module's tests; replaced when a test leaves
    it dead (or, with `empty`, holding a tuning job)."""

    def __init__(self, factory, label, empty):
        self.factory, self.label, self.empty = factory, label, empty
        self.d = None

    def fresh(self):
        if self.d:
            self.d.cleanup()
        self.d = Hpod(str(self.factory.mktemp(self.label))).start()
        return self.d

    def get(self):
        if self.d is None or self.d.proc is None or self.d.proc.poll() is not None:
            return self.fresh()
        return self.d

    def check_after_test(self):
        d = self.d
        if d.proc.poll() is not None:
            problem = "the shared hpod exited with %s" % d.proc.returncode
        else:
            jobs = _list_tuning_jobs(d) if self.empty else []
            problem = jobs and "the test left tuning jobs behind: %s" % jobs
        if problem:
            log = d.read_log()
            self.fresh()
            pytest.fail("%s; log:\n%s" % (problem, log))


@pytest.fixture(scope="module")
def _refusing(tmp_path_factory):
    sh = _Shared(tmp_path_factory, "refusing", empty=True)
    yield sh
    if sh.d:
        sh.d.cleanup()


@pytest.fixture
def refusing_hpod(_refusing):
    """The module's daemon for requests it must refuse."""
    yield _refusing.get()
    _refusing.check_after_test()


@pytest.fixture(scope="module")
def _accepting(tmp_path_factory):
    sh = _Shared(tmp_path_factory, "accepting", empty=False)
    yield sh
    if sh.d:
        sh.d.cleanup()


@pytest.fixture
def accepting_hpod(_accepting):
    """The module's daemon for requests it must accept (under unique_name())."""
    yield _accepting.get()
    _accepting.check_after_test()


_names = itertools.count(1)


def unique_name(prefix="ok"):
    """A tuning job name no other test of the module uses (never "job1")."""
    return "%s-%d" % (prefix, next(_names))


@pytest.fixture(scope="module")
def _with_job1(tmp_path_factory):
    sh = _Shared(tmp_path_factory, "with-job1", empty=False)
    d = sh.fresh()
    # an existing job, so that a request that slipped through would succeed
    d.ok("CreateTuningJob", small_job(s3_dir=d.tmp))
    yield sh
    sh.d.cleanup()


@pytest.fixture
def hpod_with_job1(_with_job1):
    """The module's daemon holding job1 (made once, for all the tests)."""
    d = _with_job1.d
    assert d.proc is not None and d.proc.poll() is None, d.read_log()
    yield d
    assert d.proc.poll() is None, d.read_log()


def tag(k="k", v="v"):
    return {"Key": k, "Value": v}


CHANNEL = {"ChannelName": "c", "DataSource": {"S3DataSource": {
    "S3DataType": "S3Prefix", "S3Uri": "file:///tmp"}}}


# ------------------------------------------- constraints of the shape model

# (path, new value or DEL, text the message must contain)
SHAPE_CASES = [
    # CreateTuningJob: top level
    ("AwsAccountId", DEL, "AwsAccountId: is required"),
    ("AwsAccountId", "", "AwsAccountId: must be at least 1 character long"),
    ("AwsAccountId", "1234567890123", "AwsAccountId: must be at most 12 characters long"),
    ("AwsAccountId", "12345678901", "AwsAccountId: '12345678901' does not match the pattern"),
    ("AwsAccountId", "12345678901a", "AwsAccountId: '12345678901a' does not match"),
    ("AwsAccountId", 123456789012, "AwsAccountId: must be a string"),
    ("AwsAccountId", None, "AwsAccountId: must be a string, not null"),
    ("TuningJobName", DEL, "TuningJobName: is required"),
    ("TuningJobName", "", "TuningJobName: must be at least 1 character long"),
    ("TuningJobName", "a" * 33, "TuningJobName: must be at most 32 characters long"),
    ("TuningJobName", "a-", "TuningJobName: 'a-' does not match the pattern"),
    ("TuningJobName", "-a", "TuningJobName: '-a' does not match"),
    ("TuningJobName", "job_1", "TuningJobName: 'job_1' does not match"),
    ("TuningJobName", "job 1", "TuningJobName: 'job 1' does not match"),
    ("TuningJobName", "job1\n", "TuningJobName: 'job1?' does not match"),
    ("TuningJobName", "j\u00f6b", "TuningJobName: 'j?b' does not match"),
    ("TuningJobName", ["job1"], "TuningJobName: must be a string, not an array"),
    (TJD, DEL, "TrainingJobDefinition: is required"),
    (TJD, [], "TrainingJobDefinition: must be an object, not an array"),
    (TJC, DEL, "TuningJobConfig: is required"),
    (TJC, "x", "TuningJobConfig: must be an object, not a string"),
    # Tags (request and training job)
    ("Tags", {}, "Tags: must be an array, not an object"),
    ("Tags", [tag()] * 51, "Tags: must have at most 50 items"),
    ("Tags", ["k"], "Tags[0]: must be an object, not a string"),
    ("Tags", [tag(k="")], "Tags[0].Key: must be at least 1 character long"),
    ("Tags", [tag(k="k" * 129)], "Tags[0].Key: must be at most 128 characters long"),
    ("Tags", [tag(k="\u00e9" * 129)], "Tags[0].Key: must be at most 128 characters long"),
    ("Tags", [tag(k="a*b")], "Tags[0].Key: 'a*b' does not match the pattern"),
    ("Tags", [tag(k="k\n")], "Tags[0].Key: 'k?' does not match"),
    ("Tags", [tag(), tag(v="v" * 257)], "Tags[1].Value: must be at most 256 characters long"),
    ("Tags", [tag(v="v;")], "Tags[0].Value: 'v;' does not match"),
    ("Tags", [tag(v=7)], "Tags[0].Value: must be a string, not an integer"),
    (TJD + ".Tags", [tag()] * 51, "TrainingJobDefinition.Tags: must have at most 50 items"),
    (TJD + ".Tags", [tag(k="")], "TrainingJobDefinition.Tags[0].Key: must be at least 1"),
    (TJD + ".Tags", [tag(v="<v>")], "TrainingJobDefinition.Tags[0].Value: '<v>' does not match"),
    # AlgorithmSpecification
    (ALGO, DEL, ALGO + ": is required"),
    (ALGO + ".TrainingImage", DEL, ALGO + ".TrainingImage: is required"),
    (ALGO + ".TrainingImage", "i" * 256, ALGO + ".TrainingImage: must be at most 255 characters"),
    (ALGO + ".TrainingInputMode", DEL, ALGO + ".TrainingInputMode: is required"),
    (ALGO + ".TrainingInputMode", "file", ALGO + ".TrainingInputMode: 'file' is not one of: "
                                                 "Pipe, File"),
    (MDS, {}, MDS + ": must be an array, not an object"),
    (MDS, [{"Name": "m%d" % i, "Regex": "m=(.*)"} for i in range(21)],
     MDS + ": must have at most 20 items"),
    (MDS + "[0].Name", "", MDS + "[0].Name: must be at least 1 character long"),
    (MDS + "[1].Name", "m" * 256, MDS + "[1].Name: must be at most 255 characters long"),
    (MDS + "[0].Regex", "", MDS + "[0].Regex: must be at least 1 character long"),
    (MDS + "[0].Regex", "(" + "x" * 100 + ")", MDS + "[0].Regex: must be at most 100 characters"),
    (MDS + "[0].Regex", 5, MDS + "[0].Regex: must be a string, not an integer"),
    # InputDataConfig
    (TJD + ".InputDataConfig", DEL, TJD + ".InputDataConfig: is required"),
    (TJD + ".InputDataConfig", [], TJD + ".InputDataConfig: must have at least 1 item"),
    (TJD + ".InputDataConfig", [dict(CHANNEL, ChannelName="c%d" % i) for i in range(9)],
     TJD + ".InputDataConfig: must have at most 8 items"),
    (CH0 + ".ChannelName", DEL, CH0 + ".ChannelName: is required"),
    (CH0 + ".ChannelName", "", CH0 + ".ChannelName: must be at least 1 character long"),
    (CH0 + ".ChannelName", "c" * 65, CH0 + ".ChannelName: must be at most 64 characters long"),
    (CH0 + ".ChannelName", "tr ain", CH0 + ".ChannelName: 'tr ain' does not match the pattern"),
    (CH0 + ".ChannelName", "tr/ain", CH0 + ".ChannelName: 'tr/ain' does not match"),
    (CH0 + ".CompressionType", "gzip", CH0 + ".CompressionType: 'gzip' is not one of: None, "
                                             "Gzip"),
    (CH0 + ".ContentType", "t" * 257, CH0 + ".ContentType: must be at most 256 characters"),
    (CH0 + ".RecordWrapperType", "recordio", CH0 + ".RecordWrapperType: 'recordio' is not one "
                                                   "of: None, RecordIO"),
    (CH0 + ".DataSource", DEL, CH0 + ".DataSource: is required"),
    (CH0 + ".DataSource.S3DataSource", DEL, CH0 + ".DataSource.S3DataSource: is required"),
    (S3DS + ".S3DataType", DEL, S3DS + ".S3DataType: is required"),
    (S3DS + ".S3DataType", "Prefix", S3DS + ".S3DataType: 'Prefix' is not one of: ManifestFile, "
                                            "S3Prefix"),
    (S3DS + ".S3DataDistributionType", "Sharded",
     S3DS + ".S3DataDistributionType: 'Sharded' is not one of: FullyReplicated, ShardedByS3Key"),
    (S3DS + ".S3Uri", DEL, S3DS + ".S3Uri: is required"),
    (S3DS + ".S3Uri", "file:///" + "d" * 1017, S3DS + ".S3Uri: must be at most 1024 characters"),
    # OutputDataConfig
    (OUT, DEL, OUT + ": is required"),
    (OUT + ".S3OutputPath", DEL, OUT + ".S3OutputPath: is required"),
    (OUT + ".S3OutputPath", "file:///" + "d" * 1017,
     OUT + ".S3OutputPath: must be at most 1024 characters long"),
    (OUT + ".KmsKeyId", "k" * 2049, OUT + ".KmsKeyId: must be at most 2048 characters long"),
    # ResourceConfig
    (RES, DEL, RES + ": is required"),
    (RES + ".InstanceCount", DEL, RES + ".InstanceCount: is required"),
    (RES + ".InstanceCount", 0, RES + ".InstanceCount: must be at least 1"),
    (RES + ".InstanceCount", -1, RES + ".InstanceCount: must be at least 1"),
    (RES + ".InstanceCount", 1.5, RES + ".InstanceCount: must be an integer, not a real number"),
    (RES + ".InstanceCount", "1", RES + ".InstanceCount: must be an integer, not a string"),
    (RES + ".InstanceCount", True, RES + ".InstanceCount: must be an integer, not a boolean"),
    (RES + ".InstanceCount", 2 ** 31, RES + ".InstanceCount: must be at most 2147483647"),
    (RES + ".InstanceType", DEL, RES + ".InstanceType: is required"),
    (RES + ".InstanceType", "ml.m5.large", RES + ".InstanceType: 'ml.m5.large' is not one of: "
                                               "ml.m4.xlarge"),
    (RES + ".VolumeKmsKeyId", "k" * 2049, RES + ".VolumeKmsKeyId: must be at most 2048"),
    (RES + ".VolumeSizeInGB", DEL, RES + ".VolumeSizeInGB: is required"),
    (RES + ".VolumeSizeInGB", 0, RES + ".VolumeSizeInGB: must be at least 1"),
    # RoleArn, StaticHyperParameters, StoppingCondition
    (TJD + ".RoleArn", DEL, TJD + ".RoleArn: is required"),
    (TJD + ".RoleArn", "r" * 19, TJD + ".RoleArn: must be at least 20 characters long"),
    (TJD + ".RoleArn", "r" * 2049, TJD + ".RoleArn: must be at most 2048 characters long"),
    (TJD + ".StaticHyperParameters", [], TJD + ".StaticHyperParameters: must be an object"),
    (TJD + ".StaticHyperParameters", {"mode": 1},
     TJD + '.StaticHyperParameters["mode"]: must be a string, not an integer'),
    (TJD + ".StaticHyperParameters", {"mode": "v" * 257},
     TJD + '.StaticHyperParameters["mode"]: must be at most 256 characters long'),
    (TJD + ".StaticHyperParameters", {"k" * 257: "v"},
     TJD + '.StaticHyperParameters: key "kkkk'),
    (TJD + ".StoppingCondition", DEL, TJD + ".StoppingCondition: is required"),
    (TJD + ".StoppingCondition.MaxRuntimeInSeconds", DEL,
     TJD + ".StoppingCondition.MaxRuntimeInSeconds: is required"),
    (TJD + ".StoppingCondition.MaxRuntimeInSeconds", 0,
     TJD + ".StoppingCondition.MaxRuntimeInSeconds: must be at least 1"),
    # ParameterRanges
    (PR, [], PR + ": must be an object, not an array"),
    (CPR, [{"Name": "p%d" % i, "MinValue": "0", "MaxValue": "1", "Type": "Continuous"}
           for i in range(21)], CPR + ": must have at most 20 items"),
    (IPR, [{"Name": "p%d" % i, "MinValue": "0", "MaxValue": "1", "Type": "Integer"}
           for i in range(21)], IPR + ": must have at most 20 items"),
    (KPR, [{"Name": "p%d" % i, "Values": ["a"], "Type": "Categorical"} for i in range(21)],
     KPR + ": must have at most 20 items"),
    (CPR + "[0].Name", DEL, CPR + "[0].Name: is required"),
    (CPR + "[0].Name", "n" * 257, CPR + "[0].Name: must be at most 256 characters long"),
    (CPR + "[0].MinValue", DEL, CPR + "[0].MinValue: is required"),
    (CPR + "[0].MinValue", -5, CPR + "[0].MinValue: must be a string, not an integer"),
    (CPR + "[0].MinValue", "1" * 257, CPR + "[0].MinValue: must be at most 256 characters"),
    (CPR + "[0].MaxValue", DEL, CPR + "[0].MaxValue: is required"),
    (CPR + "[0].MaxValue", "1" * 257, CPR + "[0].MaxValue: must be at most 256 characters"),
    (CPR + "[0].Type", DEL, CPR + "[0].Type: is required"),
    (CPR + "[0].Type", "continuous", CPR + "[0].Type: 'continuous' is not one of: Integer, "
                                           "Continuous, Categorical"),
    (IPR + "[0].Name", DEL, IPR + "[0].Name: is required"),
    (IPR + "[0].Name", "n" * 257, IPR + "[0].Name: must be at most 256 characters long"),
    (IPR + "[0].MinValue", DEL, IPR + "[0].MinValue: is required"),
    (IPR + "[0].MinValue", 0, IPR + "[0].MinValue: must be a string, not an integer"),
    (IPR + "[0].MinValue", "1" * 257, IPR + "[0].MinValue: must be at most 256 characters"),
    (IPR + "[0].MaxValue", DEL, IPR + "[0].MaxValue: is required"),
    (IPR + "[0].MaxValue", "1" * 257, IPR + "[0].MaxValue: must be at most 256 characters"),
    (IPR + "[0].Type", DEL, IPR + "[0].Type: is required"),
    (IPR + "[0].Type", "Int", IPR + "[0].Type: 'Int' is not one of"),
    (CPR + "[0].ScalingType", "Log", CPR + "[0].ScalingType: 'Log' is not one of: Auto, Linear, "
                                       "Logarithmic, ReverseLogarithmic"),
    (IPR + "[0].ScalingType", 1, IPR + "[0].ScalingType: must be a string, not an integer"),
    (KPR + "[0].Name", DEL, KPR + "[0].Name: is required"),
    (KPR + "[0].Name", "n" * 257, KPR + "[0].Name: must be at most 256 characters long"),
    (KPR + "[0].Type", DEL, KPR + "[0].Type: is required"),
    (KPR + "[0].Type", "Cat", KPR + "[0].Type: 'Cat' is not one of"),
    (KPR + "[0].Values", DEL, KPR + "[0].Values: is required"),
    (KPR + "[0].Values", [], KPR + "[0].Values: must have at least 1 item"),
    (KPR + "[0].Values", ["v%d" % i for i in range(21)], KPR + "[0].Values: must have at most 20"),
    (KPR + "[0].Values", ["a", 2], KPR + "[0].Values[1]: must be a string, not an integer"),
    (KPR + "[0].Values", ["v" * 257], KPR + "[0].Values[0]: must be at most 256 characters"),
    # ResourceLimits, Strategy, TuningJobObjective
    (LIM, [], LIM + ": must be an object, not an array"),
    (LIM + ".MaxNumberOfTrainingJobs", 0, LIM + ".MaxNumberOfTrainingJobs: must be at least 1"),
    (LIM + ".MaxNumberOfTrainingJobs", "10", LIM + ".MaxNumberOfTrainingJobs: must be an integer"),
    (LIM + ".MaxParallelTrainingJobs", 0, LIM + ".MaxParallelTrainingJobs: must be at least 1"),
    (LIM + ".MaxParallelTrainingJobs", 2.0, LIM + ".MaxParallelTrainingJobs: must be an integer"),
    (LIM + ".MaxClockTimeInHours", 0, LIM + ".MaxClockTimeInHours: must be at least 1"),
    (TJC + ".Strategy", "Grid", TJC + ".Strategy: 'Grid' is not one of: Bayesian, Random"),
    (TJC + ".Strategy", "bayesian", TJC + ".Strategy: 'bayesian' is not one of: Bayesian"),
    (OBJ, "accuracy", OBJ + ": must be an object, not a string"),
    (OBJ + ".Type", "Max", OBJ + ".Type: 'Max' is not one of: Maximize, Minimize"),
    (OBJ + ".MetricName", "", OBJ + ".MetricName: must be at least 1 character long"),
    (OBJ + ".MetricName", "m" * 256, OBJ + ".MetricName: must be at most 255 characters long"),
]


def _case_id(c):
    v = "DEL" if c[1] is DEL else json.dumps(c[1])
    return "%s=%s" % (c[0], v[:24])


@pytest.mark.parametrize("path,value,msg", SHAPE_CASES, ids=[_case_id(c) for c in SHAPE_CASES])
def test_validation_shape_constraint(refusing_hpod, path, value, msg):
    create_expect_error(refusing_hpod, mutate(job_request(), path, value), msg)


# ------------------------------------------------------------ semantic rules

SEMANTIC_CASES = [
    # each range's Type equals its list
    (CPR + "[0].Type", "Integer",
     CPR + "[0].Type: must be Continuous in ContinuousParameterRanges"),
    (IPR + "[0].Type", "Categorical", IPR + "[0].Type: must be Integer in IntegerParameterRanges"),
    (KPR + "[0].Type", "Continuous",
     KPR + "[0].Type: must be Categorical in CategoricalParameterRanges"),
    # bounds are finite numbers (integers for Integer ranges), Min <= Max
    (CPR + "[0].MinValue", "abc", CPR + "[0].MinValue: 'abc' is not a finite decimal number"),
    (CPR + "[0].MaxValue", "", CPR + "[0].MaxValue: '' is not a finite decimal number"),
    (CPR + "[0].MaxValue", "1e999", CPR + "[0].MaxValue: '1e999' is not a finite decimal"),
    (CPR + "[0].MaxValue", "inf", CPR + "[0].MaxValue: 'inf' is not a finite decimal number"),
    (CPR + "[0].MaxValue", "NaN", CPR + "[0].MaxValue: 'NaN' is not a finite decimal number"),
    (CPR + "[0].MaxValue", "0x10", CPR + "[0].MaxValue: '0x10' is not a finite decimal number"),
    (CPR + "[0].MaxValue", " 10", CPR + "[0].MaxValue: ' 10' is not a finite decimal number"),
    (IPR + "[0].MinValue", "1.5", IPR + "[0].MinValue: '1.5' is not an integer"),
    (IPR + "[0].MaxValue", "1e3", IPR + "[0].MaxValue: '1e3' is not an integer"),
    (IPR + "[0].MaxValue", "ten", IPR + "[0].MaxValue: 'ten' is not an integer"),
    (IPR + "[0].MaxValue", "9" * 17, IPR + "[0].MaxValue: '99999999999999999' is not an integer"),
    (CPR + "[0].MinValue", "10.5", CPR + "[0].MinValue: 10.5 must not be greater than MaxValue 10"),
    (IPR + "[0].MinValue", "16", IPR + "[0].MinValue: 16 must not be greater than MaxValue 15"),
    # scaling types fit their ranges
    (CPR + "[0].ScalingType", "Logarithmic",
     CPR + "[0].ScalingType: Logarithmic scaling needs MinValue greater than 0"),
    (IPR + "[0].ScalingType", "Logarithmic",
     IPR + "[0].ScalingType: Logarithmic scaling needs MinValue greater than 0"),
    (CPR + "[0].ScalingType", "ReverseLogarithmic",
     CPR + "[0].ScalingType: ReverseLogarithmic scaling needs 0 <= MinValue and MaxValue < 1"),
    (IPR + "[0].ScalingType", "ReverseLogarithmic",
     IPR + "[0].ScalingType: ReverseLogarithmic scaling is only for ContinuousParameterRanges"),
    # categorical values distinct
    (KPR + "[0].Values", ["a", "b", "a"], KPR + "[0].Values[2]: 'a' is already Values[0]"),
    # parameter names unique across the lists and StaticHyperParameters
    (IPR + "[0].Name", "x", IPR + "[0].Name: parameter 'x' is already defined by "
                                  "ContinuousParameterRanges[0]"),
    (KPR + "[0].Name", "x", KPR + "[0].Name: parameter 'x' is already defined by "
                                  "ContinuousParameterRanges[0]"),
    (KPR + "[0].Name", "n", KPR + "[0].Name: parameter 'n' is already defined by "
                                  "IntegerParameterRanges[0]"),
    (CPR + "[1]", {"Name": "x", "MinValue": "0", "MaxValue": "1", "Type": "Continuous"},
     CPR + "[1].Name: parameter 'x' is already defined by ContinuousParameterRanges[0]"),
    (TJD + ".StaticHyperParameters", {"mode": "normal", "n": "3"},
     IPR + "[0].Name: 'n' is also a key of TrainingJobDefinition.StaticHyperParameters"),
    # at least one range
    (PR, {}, PR + ": at least one parameter range is required"),
    (PR, DEL, PR + ": at least one parameter range is required"),
    (PR, {"ContinuousParameterRanges": [], "IntegerParameterRanges": [],
          "CategoricalParameterRanges": []}, PR + ": at least one parameter range is required"),
    # metric definitions: Name and Regex, compiling, with a group, distinct
    (MDS + "[0].Name", DEL, MDS + "[0].Name: is required"),
    (MDS + "[1].Regex", DEL, MDS + "[1].Regex: is required"),
    (MDS + "[1].Regex", "loss=([0-9", MDS + "[1].Regex: is not a valid regular expression"),
    (MDS + "[1].Regex", "loss=(", MDS + "[1].Regex: is not a valid regular expression"),
    (MDS + "[1].Regex", "loss=[0-9.]+", MDS + "[1].Regex: must have a capture group"),
    (MDS + "[1].Regex", "loss=(?:[0-9.]+)", MDS + "[1].Regex: must have a capture group"),
    (MDS + "[1].Name", "accuracy", MDS + "[1].Name: metric 'accuracy' is already defined by "
                                         "MetricDefinitions[0]"),
    # the objective is a defined metric; something to optimise
    (OBJ + ".MetricName", "f1", OBJ + ".MetricName: 'f1' is not the Name of any of " + MDS),
    (MDS, [], OBJ + ".MetricName: 'accuracy' is not the Name of any of " + MDS),
    (MDS, DEL, OBJ + ".MetricName: 'accuracy' is not the Name of any of " + MDS),
    # parallelism within the budget
    (LIM + ".MaxParallelTrainingJobs", 11,
     LIM + ".MaxParallelTrainingJobs: 11 must not be greater than MaxNumberOfTrainingJobs 10"),
    # channels: distinct names; file:// with an absolute path, or s3:// with a bucket
    (S3DS + ".S3Uri", "s3:///train",
     S3DS + ".S3Uri: 's3:///train' names no bucket (s3://bucket/prefix)"),
    (S3DS + ".S3Uri", "file://tmp", S3DS + ".S3Uri: 'file://tmp' is not a file:// URI with an "
                                           "absolute path"),
    (S3DS + ".S3Uri", "/tmp", S3DS + ".S3Uri: '/tmp' is not a file:// URI"),
    (S3DS + ".S3Uri", "", S3DS + ".S3Uri: '' is not a file:// URI"),
    (S3DS + ".S3Uri", "https://example.com/data", S3DS + ".S3Uri: 'https://example.com/data' is "
                                                         "not a file:// URI"),
    (TJD + ".InputDataConfig[1]", dict(CHANNEL, ChannelName="train"),
     TJD + ".InputDataConfig[1].ChannelName: channel 'train' is already InputDataConfig[0]"),
    # output: file:///abs or s3://bucket
    (OUT + ".S3OutputPath", "out", OUT + ".S3OutputPath: 'out' is neither a file:// URI"),
    (OUT + ".S3OutputPath", "file://out", OUT + ".S3OutputPath: 'file://out' is neither"),
    (OUT + ".S3OutputPath", "s3:///out", OUT + ".S3OutputPath: 's3:///out' is neither"),
    (OUT + ".S3OutputPath", "", OUT + ".S3OutputPath: '' is neither"),
]


@pytest.mark.parametrize("path,value,msg", SEMANTIC_CASES,
                         ids=[_case_id(c) for c in SEMANTIC_CASES])
def test_validation_semantic_rule(refusing_hpod, path, value, msg):
    create_expect_error(refusing_hpod, mutate(job_request(), path, value), msg)


def test_validation_objective_defaults_need_a_metric(refusing_hpod):
    body = mutate(mutate(job_request(), OBJ, DEL), MDS, [])
    create_expect_error(refusing_hpod, body, MDS + ": at least one metric definition is required")
    body = mutate(mutate(job_request(), OBJ + ".MetricName", DEL), MDS, DEL)
    create_expect_error(refusing_hpod, body, "at least one metric definition is required")


# ------------------------------------------------------ the other operations

NAME_OPS = ["DescribeTuningJob", "StopTuningJob", "ListTrainingJobsForTuningJob"]
NAME_CASES = [
    ("AwsAccountId", DEL, "AwsAccountId: is required"),
    ("AwsAccountId", "1234", "AwsAccountId: '1234' does not match the pattern [0-9]{12}"),
    ("AwsAccountId", "1234567890123", "AwsAccountId: must be at most 12 characters long"),
    ("AwsAccountId", "", "AwsAccountId: must be at least 1 character long"),
    ("TuningJobName", DEL, "TuningJobName: is required"),
    ("TuningJobName", "bad_name", "TuningJobName: 'bad_name' does not match"),
    ("TuningJobName", "n" * 33, "TuningJobName: must be at most 32 characters long"),
    ("TuningJobName", "", "TuningJobName: must be at least 1 character long"),
    ("TuningJobName", 1, "TuningJobName: must be a string, not an integer"),
]
LIST_CASES = [
    ("MaxResults", 101, "MaxResults: must be at most 100"),
    ("MaxResults", "10", "MaxResults: must be an integer, not a string"),
    ("MaxResults", 10.5, "MaxResults: must be an integer, not a real number"),
    ("NextToken", "t" * 8193, "NextToken: must be at most 8192 characters long"),
    ("NextToken", 5, "NextToken: must be a string, not an integer"),
    ("SortBy", "Name", "SortBy: 'Name' is not one of: FinalObjectiveMetricValue"),
    ("SortOrder", "ascending", "SortOrder: 'ascending' is not one of: Ascending, Descending"),
    ("TrainingJobStatusEquals", "Running", "TrainingJobStatusEquals: 'Running' is not one of: "
                                           "InProgress, Completed, Failed, Stopping, Stopped"),
]
OTHER_CASES = [(op,) + c for op in NAME_OPS for c in NAME_CASES] + \
    [("ListTrainingJobsForTuningJob",) + c for c in LIST_CASES]


@pytest.mark.parametrize("op,path,value,msg", OTHER_CASES,
                         ids=["%s-%s" % (c[0], _case_id(c[1:])) for c in OTHER_CASES])
def test_validation_other_operations(hpod_with_job1, op, path, value, msg):
    # an existing job (made by the fixture), so that a request that slipped
    # through would succeed
    hpod_with_job1.describe("job1")
    body = mutate({"AwsAccountId": ACCOUNT, "TuningJobName": "job1"}, path, value)
    st, hd, raw = send(hpod_with_job1, "/" + op, json.dumps(body).encode())
    assert_validation_error(st, hd, raw, msg)


# ----------------------------------------------------- transport-level input

MALFORMED = [
    b"",
    b"{",
    b"not json",
    b'{"AwsAccountId": "123456789012",}',
    b"{'AwsAccountId': '123456789012'}",
    b'{"AwsAccountId": "123456789012"} trailing',
    b'{"a": 1, "a": 2}',
    b"\xff\xfe{}",
    b'{"TuningJobName": "job\xff1"}',
    b'{"TuningJobName": "job\\u0000"}',
    b'{"TuningJobName": "\xed\xa0\x80"}',
]


@pytest.mark.parametrize("data", MALFORMED, ids=[repr(d)[:30] for d in MALFORMED])
def test_validation_malformed_json(refusing_hpod, data):
    st, hd, raw = send(refusing_hpod, "/CreateTuningJob", data)
    assert_validation_error(st, hd, raw)
    assert_nothing_stored(refusing_hpod)


NOT_OBJECTS = [b"[]", b"null", b'"job1"', b"42", b"true"]


@pytest.mark.parametrize("data", NOT_OBJECTS, ids=[d.decode() for d in NOT_OBJECTS])
@pytest.mark.parametrize("op", ["CreateTuningJob"] + NAME_OPS)
def test_validation_body_not_an_object(refusing_hpod, op, data):
    st, hd, raw = send(refusing_hpod, "/" + op, data)
    assert_validation_error(st, hd, raw)


BAD_TYPES = [None, "text/plain", "application/xml", "application/x-www-form-urlencoded",
             "multipart/form-data; boundary=x", "json", "application/jsonx", ""]


@pytest.mark.parametrize("ctype", BAD_TYPES, ids=[str(t) for t in BAD_TYPES])
def test_validation_content_type_refused(refusing_hpod, ctype):
    st, hd, raw = send(refusing_hpod, "/CreateTuningJob", json.dumps(job_request()).encode(),
                       content_type=ctype)
    assert_validation_error(st, hd, raw, "Content-Type")
    assert_nothing_stored(refusing_hpod)


@pytest.mark.parametrize("ctype", ["application/json", "application/x-amz-json-1.1"])
def test_validation_content_type_accepted(accepting_hpod, ctype):
    name = unique_name()
    st, hd, raw = send(accepting_hpod, "/CreateTuningJob",
                       json.dumps(small_job(name=name)).encode(), content_type=ctype)
    assert st == 200, raw
    accepting_hpod.describe(name)


def _padded(size, name="job1"):
    """A valid body of exactly `size` bytes (padding in an unknown member)."""
    body = small_job(name=name)
    body["Padding"] = ""
    base = len(json.dumps(body).encode())
    body["Padding"] = "p" * (size - base)
    data = json.dumps(body).encode()
    assert len(data) == size
    return data


def test_validation_body_at_cap_accepted(accepting_hpod):
    name = unique_name()
    st, hd, raw = send(accepting_hpod, "/CreateTuningJob", _padded(MIB, name))
    assert st == 200, raw[:500]
    accepting_hpod.describe(name)


@pytest.mark.parametrize("size", [MIB + 1, 2 * MIB, 8 * MIB])
def test_validation_body_over_cap_refused(accepting_hpod, size):
    st, hd, raw = send(accepting_hpod, "/CreateTuningJob", _padded(size))
    assert_validation_error(st, hd, raw)
    assert_nothing_stored(accepting_hpod)
    # the daemon is still healthy
    accepting_hpod.ok("CreateTuningJob", small_job(name=unique_name("after")))


DEPTHS = [33, 100, 10000, 100000]


@pytest.mark.parametrize("depth", DEPTHS)
def test_validation_deep_nesting_as_body(accepting_hpod, depth):
    st, hd, raw = send(accepting_hpod, "/CreateTuningJob", b"[" * depth + b"]" * depth)
    assert_validation_error(st, hd, raw)
    accepting_hpod.ok("CreateTuningJob", small_job(name=unique_name("after")))


@pytest.mark.parametrize("depth", DEPTHS + [32])
def test_validation_deep_nesting_in_unknown_member(refusing_hpod, depth):
    # the top-level object is level 1: 31 nested arrays inside it are allowed
    data = json.dumps(small_job())[:-1].encode() + b', "Deep": ' + \
        b"[" * depth + b"]" * depth + b"}"
    st, hd, raw = send(refusing_hpod, "/CreateTuningJob", data)
    if depth >= 100:  # past the parser's own cap, or ours
        assert_validation_error(st, hd, raw)
    else:
        assert_validation_error(st, hd, raw, "nested more than 32 levels deep")
    assert_nothing_stored(refusing_hpod)


def test_validation_nesting_just_under_cap_accepted(accepting_hpod):
    data = json.dumps(small_job(name=unique_name()))[:-1].encode() + b', "Deep": ' + \
        b"[" * 31 + b"]" * 31 + b"}"
    st, hd, raw = send(accepting_hpod, "/CreateTuningJob", data)
    assert st == 200, raw


# ---------------------------------------------------------- what is accepted

ACCEPTED = [
    ("UnknownTopLevel", {"any": [1, {"thing": None}]}),
    (TJD + ".Unknown", "x"),
    (RES + ".Gpus", 8),
    (MDS + "[0].Unit", "percent"),
    (CPR + "[0].Description", "unknown members are ignored"),
    (CPR + "[0].ScalingType", "Linear"),  # an openhpo extension
    (IPR + "[0].ScalingType", "Auto"),
    (CPR + "[0]", {"Name": "x", "MinValue": "0.001", "MaxValue": "1",
                   "Type": "Continuous", "ScalingType": "Logarithmic"}),
    (CPR + "[0]", {"Name": "x", "MinValue": "0", "MaxValue": "0.999",
                   "Type": "Continuous", "ScalingType": "ReverseLogarithmic"}),
    ("Tags", [tag(k="\u00e9" * 128, v="\u65e5\u672c " * 50)]),  # code points, not bytes
    ("Tags", [tag(k="\U0001d400" * 128)]),
    ("Tags", [tag() for _ in range(50)]),
    ("Tags", []),
    ("TuningJobName", "a" * 32),
    ("TuningJobName", "A-b--c9"),
    (ALGO + ".TrainingInputMode", "Pipe"),
    (CH0 + ".CompressionType", "None"),
    (CH0 + ".RecordWrapperType", "RecordIO"),
    (S3DS + ".S3DataDistributionType", "ShardedByS3Key"),
    (RES + ".InstanceType", "ml.c5.18xlarge"),
    (TJD + ".StaticHyperParameters", {}),
    (TJD + ".StaticHyperParameters", {"": "", "k" * 256: "v" * 256}),
    (TJC + ".Strategy", "Bayesian"),
    (TJC + ".Strategy", "Random"),  # an openhpo extension
    (OBJ + ".MetricName", "loss"),
    (OBJ + ".MetricName", DEL),
    (OBJ, DEL),
    (LIM + ".MaxParallelTrainingJobs", 1),
    (LIM + ".MaxClockTimeInHours", 1),
    (IPR + "[0].MinValue", "15"),
    (CPR + "[0].MaxValue", "1.5e+1"),
    (KPR + "[0].Values", ["only"]),
    (OUT + ".S3OutputPath", "s3://bucket/prefix"),
]


@pytest.mark.parametrize("path,value", ACCEPTED, ids=[_case_id(c) for c in ACCEPTED])
def test_validation_accepted(accepting_hpod, path, value):
    create_expect_ok(accepting_hpod, mutate(small_job(name=unique_name()), path, value))


# ------------------------------------------- the model against the spec text

def _spec_dir():
    for d in SPEC_DIRS:
        if os.path.isdir(d):
            return d
    pytest.skip("spec directory not found")


def _fields(text, section):
    """Parses the ' **Name** ' blocks of one section of a spec page."""
    m = re.search(r"^## %s.*?$(.*?)(?=^## |\Z)" % section, text, re.M | re.S)
    if not m:
        return {}
    out = {}
    for block in re.split(r"^ \*\* ?", m.group(1), flags=re.M)[1:]:
        name, rest = block.split("**", 1)
        # drop markdown's escapes, except inside `code` (patterns)
        parts = rest.split("`")
        out[name.strip()] = "`".join(p if i % 2 else p.replace("\\", "")
                                     for i, p in enumerate(parts))
    return out


def _expect(field):
    """What the spec text of one field says, in the model's vocabulary."""
    want = {}
    t = re.search(r"Type: (.*)", field).group(1).strip()
    if (m := re.search(r"Length Constraints: Minimum length of (\d+)", field)) \
            and "Key Length" not in field:
        want["min"] = int(m.group(1))
    if (m := re.search(r"Length Constraints: (?:Minimum length of \d+\. )?Maximum length of "
                       r"(\d+)", field)) and "Key Length" not in field:
        want["max"] = int(m.group(1))
    if m := re.search(r"Pattern: `(.*)`", field):
        want["pattern"] = m.group(1)
    if m := re.search(r"Valid Values:` (.*)`", field):
        want["enum"] = [v.strip() for v in m.group(1).split("|")]
    if m := re.search(r"Valid Range: Minimum value of (\d+)", field):
        want["min"] = int(m.group(1))
    if m := re.search(r"Valid Range: Maximum value of (\d+)", field):
        want["max"] = int(m.group(1))
    if m := re.search(r"Array Members: Minimum number of (\d+) items?\. Maximum number of (\d+)",
                      field):
        want["list"] = (int(m.group(1)), int(m.group(2)))
    if m := re.search(r"Key Length Constraints: Maximum length of (\d+)\.\s*Value Length "
                      r"Constraints: Maximum length of (\d+)", field):
        want["map"] = (int(m.group(1)), int(m.group(2)))
    want["required"] = "Required: Yes" in field
    return t, want


def _check_member(shapes, departures, owner, name, field):
    t, want = _expect(field)
    ref = shapes[owner]["members"].get(name)
    assert ref, "%s.%s is in the spec but not in the model" % (owner, name)
    if "Required:" in field:
        assert (name in shapes[owner].get("required", [])) == want["required"], (owner, name)
    s = shapes[ref["shape"]]
    if t.startswith("Array of"):
        assert s["type"] == "list", (owner, name)
        lo, hi = want.get("list", (None, None))
        assert (s.get("min"), s.get("max")) == (lo, hi), (owner, name)
        member = s["member"]["shape"]
        if t == "Array of strings":
            assert shapes[member]["type"] == "string", (owner, name)
            assert shapes[member].get("max") == want.get("max"), (owner, name)
        else:
            assert member == re.search(r"\[(\w+)\]", t).group(1), (owner, name)
        return
    if t == "String to string map":
        assert s["type"] == "map", (owner, name)
        k, v = shapes[s["key"]["shape"]], shapes[s["value"]["shape"]]
        assert (k.get("max"), v.get("max")) == want["map"], (owner, name)
        assert "min" not in s and "max" not in s
        return
    if t.endswith("object"):
        assert s["type"] == "structure", (owner, name)
        assert ref["shape"] == re.search(r"\[(\w+)\]", t).group(1), (owner, name)
        return
    types = {"String": "string", "Integer": "integer", "Float": "float",
             "Timestamp": "timestamp"}
    assert s["type"] == types[t], (owner, name, t)
    for k in ("min", "max", "pattern", "enum"):
        spec_v = want.get(k)
        model_v = s.get(k)
        if (ref["shape"], k) in departures:  # a documented departure from the spec
            assert model_v != spec_v, (owner, name, k, "departure listed but not made")
            model_v = departures[(ref["shape"], k)]
        if k == "min" and spec_v == 0 and s["type"] == "string" and model_v is None:
            continue  # "Minimum length of 0" says nothing
        assert model_v == spec_v, (owner, name, k, model_v, spec_v)


def test_validation_model_matches_spec():
    """Every field of every spec page, with every constraint it states, is in
    src/models/hpo-2017-11-08.json, and the model has no member the spec
    lacks; the only differences are the departures the model lists."""
    d = _spec_dir()
    model = json.load(open(MODEL))
    shapes = model["shapes"]
    departures = {(d["shape"], d["key"]): d["spec"]
                  for d in model["openhpo"]["departures"] if "spec" in d}
    added = {d["shape"]: set(d["added"])
             for d in model["openhpo"]["departures"] if d["key"] == "members"}
    checked = 0
    for fn in sorted(os.listdir(d)):
        if not fn.startswith("API_hpo_") or not fn.endswith(".md"):
            continue
        text = open(os.path.join(d, fn)).read()
        name = fn[len("API_hpo_"):-len(".md")]
        pages = []
        if name in model["operations"]:
            op = model["operations"][name]
            pages.append((op["input"]["shape"], _fields(text, "Request Body")))
            if "output" in op:
                pages.append((op["output"]["shape"], _fields(text, "Response Elements")))
            else:
                assert "empty HTTP body" in text
        else:
            pages.append((name, _fields(text, "Contents")))
        for shape, fields in pages:
            assert shape in shapes, shape
            assert fields, fn
            for field, body in fields.items():
                _check_member(shapes, departures, shape, field, body)
                checked += 1
            model_members = set(shapes[shape]["members"]) - added.get(shape, set())
            assert model_members == set(fields), (shape, fn)
    assert checked > 100, checked


def test_validation_sagemaker_model_is_current(tmp_path):
    """src/models/sagemaker-2017-07-24.json is what scripts/gen_model.py makes
    from the installed botocore (rerun the script after upgrading botocore)."""
    import subprocess
    import sys
    src = "/usr/lib/python3/dist-packages/botocore/data/sagemaker/2017-07-24/service-2.json"
    if not os.path.exists(src):
        pytest.skip("Debian's python3-botocore is not installed")
    # The committed model was made from this package version; a Debian update
    # of botocore must not fail CI, it only means the script should be rerun.
    made_from = "1.29.27+repack-1"
    installed = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "python3-botocore"],
                               capture_output=True, text=True).stdout.strip()
    if installed != made_from:
        pytest.skip("python3-botocore is %s, the model was made from %s: rerun "
                    "scripts/gen_model.py" % (installed, made_from))
    out = tmp_path / "model.json"
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "gen_model.py"),
                    "--source", src, "--out", str(out)], check=True, capture_output=True)
    committed = json.load(open(os.path.join(ROOT, "src", "models", "sagemaker-2017-07-24.json")))
    assert json.load(open(out)) == committed
