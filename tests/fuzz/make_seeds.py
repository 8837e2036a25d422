#!/usr/bin/python3
"""Writes the seed corpora of the fuzz harnesses to tests/fuzz/corpus/<target>/.

The request bodies are the end-to-end tests' own (tests/e2e/conftest.py
job_request, tests/e2e/test_current_api.py tuning_request / training_request)
plus the Describe / List / Stop / tag bodies those tests send; the signed
SigV4 seeds are signed by botocore (as boto3 signs) at the fixed time the
sigv4 harness verifies at. Each harness's input format is described at the
top of its tests/fuzz/fuzz_<target>.c. Run from anywhere:
    /usr/bin/python3 tests/fuzz/make_seeds.py
Regression seeds (crash-*, named after the finding) are kept; others are
rewritten."""
import copy
import datetime
import hashlib
import json
import os
import struct
import sys
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

from conftest import ACCOUNT, job_request  # noqa: E402
from test_current_api import training_request, tuning_request  # noqa: E402

CORPUS = os.path.join(HERE, "corpus")

OPS = ["CreateTuningJob", "DescribeTuningJob", "ListTrainingJobsForTuningJob", "StopTuningJob",
       "CreateHyperParameterTuningJob", "DescribeHyperParameterTuningJob",
       "ListHyperParameterTuningJobs", "ListTrainingJobsForHyperParameterTuningJob",
       "StopHyperParameterTuningJob", "CreateTrainingJob", "DescribeTrainingJob",
       "ListTrainingJobs", "StopTrainingJob", "AddTags", "ListTags", "DeleteTags"]
TUNE_ARN = "arn:aws:sagemaker:us-east-1:%s:hyper-parameter-tuning-job/tune1" % ACCOUNT
TRAIN_ARN = "arn:aws:sagemaker:us-east-1:%s:training-job/train1" % ACCOUNT


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def clear(target):
    d = os.path.join(CORPUS, target)
    if os.path.isdir(d):
        for n in os.listdir(d):
            if not n.startswith("crash-"):
                os.unlink(os.path.join(d, n))


# ---- api: [route/method/ctype][op][auth] extra '\n' body -------------------
def api_seed(op, body, route=0, method=0, ctype=None, auth=0, extra=b""):
    if ctype is None:
        ctype = 0 if route in (0, 2, 3, 7) else 1
    b0 = method | (route << 2) | (ctype << 5)
    b1 = OPS.index(op) if op in OPS else 255
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
    return bytes([b0, b1, auth]) + extra + b"\n" + body


def api_seeds():
    clear("api")
    cur = [
        ("CreateHyperParameterTuningJob", tuning_request("tune2")),
        ("CreateHyperParameterTuningJob", tuning_request(
            "tagged", max_jobs=1, parallel=1, strategy="Random",
            tags=[{"Key": "team", "Value": "ml"}])),
        ("CreateTrainingJob", training_request("train2")),
        ("DescribeHyperParameterTuningJob", {"HyperParameterTuningJobName": "tune1"}),
        ("ListHyperParameterTuningJobs", {"MaxResults": 1, "SortBy": "Name",
                                          "SortOrder": "Descending", "NameContains": "tune"}),
        ("ListTrainingJobsForHyperParameterTuningJob", {
            "HyperParameterTuningJobName": "tune1", "SortBy": "FinalObjectiveMetricValue",
            "SortOrder": "Descending", "MaxResults": 1}),
        ("StopHyperParameterTuningJob", {"HyperParameterTuningJobName": "tune1"}),
        ("DescribeTrainingJob", {"TrainingJobName": "train1"}),
        ("ListTrainingJobs", {"StatusEquals": "InProgress", "SortBy": "CreationTime",
                              "NameContains": "train", "MaxResults": 2}),
        ("StopTrainingJob", {"TrainingJobName": "train1"}),
        ("AddTags", {"ResourceArn": TUNE_ARN, "Tags": [{"Key": "env", "Value": "dev"},
                                                       {"Key": "team", "Value": "hpo"}]}),
        ("ListTags", {"ResourceArn": TUNE_ARN, "MaxResults": 1}),
        ("DeleteTags", {"ResourceArn": TRAIN_ARN, "TagKeys": ["team"]}),
    ]
    for i, (op, body) in enumerate(cur):
        write("api", "cur-%02d-%s" % (i, op), api_seed(op, body))
    # The same operations signed by the harness (credentials configured).
    for i, (op, body) in enumerate(cur[:4]):
        write("api", "signed-%02d-%s" % (i, op), api_seed(op, body, auth=2))
    old = [
        ("CreateTuningJob", job_request("job2")),
        ("CreateTuningJob", job_request("job3", strategy="Random", max_jobs=3, parallel=3)),
        ("DescribeTuningJob", {"AwsAccountId": ACCOUNT, "TuningJobName": "job1"}),
        ("ListTrainingJobsForTuningJob", {"AwsAccountId": ACCOUNT, "TuningJobName": "job1",
                                          "MaxResults": 100}),
        ("StopTuningJob", {"AwsAccountId": ACCOUNT, "TuningJobName": "job1"}),
    ]
    for i, (op, body) in enumerate(old):
        write("api", "2017-%02d-%s" % (i, op), api_seed(op, body, route=1))
    write("api", "2017-signed-DescribeTuningJob",
          api_seed("DescribeTuningJob", old[2][1], route=1, auth=2))
    # The other routes.
    write("api", "health", api_seed("x", b"", route=4, method=2, ctype=3))
    write("api", "metrics", api_seed("x", b"", route=6, method=2, ctype=3, extra=b"/metrics"))
    write("api", "metrics-token", api_seed("x", b"", route=6, method=2, ctype=3, auth=2,
                                           extra=b"/metrics"))
    write("api", "logs", api_seed("x", b"", route=5, method=2, ctype=3,
                                  extra=b"123456789012/train1/0"))
    write("api", "unknown-op", api_seed("Frobnicate", {}, route=0, extra=b"Frobnicate"))
    write("api", "wrong-api", api_seed("CreateTuningJob", job_request("job4"), route=0))
    write("api", "no-prefix", api_seed("DescribeTrainingJob", {"TrainingJobName": "train1"},
                                       route=2))
    write("api", "bad-json", api_seed("CreateTrainingJob", b'{"TrainingJobName": "t', route=0))
    # Issue 8: this request hangs api_current.c (rename_in_msg with an empty
    # `from`); it is the finding fuzz_api made first.
    bad_image = tuning_request("tune3")
    bad_image["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingImage"] = "nope:1"
    write("api", "crash-issue8-unknown-image-hang",
          api_seed("CreateHyperParameterTuningJob", bad_image))
    write("api", "too-large", api_seed("CreateTrainingJob", training_request("t3"), auth=4))
    write("api", "bad-authz", api_seed("ListTrainingJobs", {}, auth=3, extra=(
        b"AWS4-HMAC-SHA256 Credential=AKIAOPENHPOTESTKEYAA/20240101/us-east-1/sagemaker/"
        b"aws4_request, SignedHeaders=host;x-amz-date, Signature=" + b"0" * 64)))


# ---- sigv4: method '\n' path '\n' query '\n' (name ':' value '\n')* '\n' body
SIGV4_NOW = 1714564800  # 2024-05-01T12:00:00Z, fuzz_sigv4.c FUZZ_NOW
SIGV4_KEY, SIGV4_SECRET = "AKIAOPENHPOTESTKEYAA", "secret/A+openhpo-test-key-0001"


def sigv4_input(method, path, query, headers, body):
    out = method.encode() + b"\n" + path.encode() + b"\n" + query.encode() + b"\n"
    for k, v in headers:
        out += k.encode() + b":" + v.encode() + b"\n"
    return out + b"\n" + body


def botocore_signed(method, url_path, query, headers, body, region="us-east-1"):
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    url = "http://localhost" + url_path + ("?" + query if query else "")
    req = botocore.awsrequest.AWSRequest(method=method, url=url, data=body, headers=headers)
    signer = botocore.auth.SigV4Auth(botocore.credentials.Credentials(SIGV4_KEY, SIGV4_SECRET),
                                     "sagemaker", region)
    when = datetime.datetime.utcfromtimestamp(SIGV4_NOW)
    with mock.patch("botocore.auth.datetime") as m:
        m.datetime.utcnow.return_value = when
        signer.add_auth(req)
    hdrs = [("Host", "localhost")] + [(k, v) for k, v in req.headers.items()]
    return sigv4_input(method, url_path, query, hdrs, body)


def sigv4_seeds():
    clear("sigv4")
    body = json.dumps({"HyperParameterTuningJobName": "tune1"}).encode()
    write("sigv4", "botocore-current", botocore_signed(
        "POST", "/", "", {"Content-Type": "application/x-amz-json-1.1",
                          "X-Amz-Target": "SageMaker.DescribeHyperParameterTuningJob"}, body))
    write("sigv4", "botocore-2017", botocore_signed(
        "POST", "/DescribeTuningJob", "", {"Content-Type": "application/json"},
        json.dumps({"AwsAccountId": ACCOUNT, "TuningJobName": "job1"}).encode()))
    write("sigv4", "botocore-query", botocore_signed(
        "GET", "/openhpo/logs/123456789012/train1/0", "b=2&a=1&a=0&x%20y=%2F", {}, b""))
    write("sigv4", "botocore-token", botocore_signed(
        "POST", "/", "", {"Content-Type": "application/x-amz-json-1.1",
                          "X-Amz-Security-Token": "FQoGZXIvYXdzEXAMPLE",
                          "X-Amz-Target": "SageMaker.ListTrainingJobs"}, b"{}"))
    write("sigv4", "botocore-dots", botocore_signed(
        "POST", "/a/./b/../c//d", "", {"X-Custom": "  two   spaces  "}, b"x"))
    # Presigned (query-string authentication), hand-made in botocore's layout.
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    req = botocore.awsrequest.AWSRequest(method="GET", url="http://localhost/health", data=b"")
    signer = botocore.auth.SigV4QueryAuth(
        botocore.credentials.Credentials(SIGV4_KEY, SIGV4_SECRET), "sagemaker", "us-east-1",
        expires=300)
    with mock.patch("botocore.auth.datetime") as m:
        m.datetime.utcnow.return_value = datetime.datetime.utcfromtimestamp(SIGV4_NOW)
        signer.add_auth(req)
    path, _, query = req.url[len("http://localhost"):].partition("?")
    write("sigv4", "botocore-presigned", sigv4_input(
        "GET", path, query, [("Host", "localhost")], b""))
    write("sigv4", "unsigned", sigv4_input("POST", "/", "", [("Host", "localhost")], b"{}"))
    write("sigv4", "date-header", sigv4_input("GET", "/", "", [
        ("Host", "localhost"), ("Date", "Wed, 01 May 2024 12:00:00 GMT"),
        ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAOPENHPOTESTKEYAA/20240501/"
         "us-east-1/sagemaker/aws4_request, SignedHeaders=date;host, Signature=" + "a" * 64)],
        b""))


# ---- metrics: [defs selector] log... [chunk lengths][number of them] -------
def metrics_input(sel, log, chunks, regex=b""):
    head = bytes([sel]) + (regex + b"\n" if sel >= 8 else b"")
    return head + log + bytes(chunks) + bytes([len(chunks)])


def metrics_seeds():
    clear("metrics")
    log = (b"epoch 1 accuracy=0.5 loss: 1.25\n"
           b"epoch 2 accuracy=0.75 loss: 0.5\r\n"
           b"noise without numbers\n"
           b"accuracy=nan loss: inf\n"
           b"accuracy=1e400 loss: -0\n"
           b"epoch 3 accuracy=0.875")
    write("metrics", "two-metrics", metrics_input(0, log, [7, 1, 64, 3]))
    write("metrics", "one-piece", metrics_input(1, log, []))
    write("metrics", "utf8", metrics_input(2, "step=1 précision=0.9 λ=2\n".encode() +
                                           b"\xff\xfe bad utf-8 precision=0.1\n", [1]))
    write("metrics", "long-line", metrics_input(3, b"x" * 16384 + b"loss: 2\n" + b"y" * 3000,
                                                [255, 17, 200]))
    write("metrics", "custom-regex", metrics_input(8, b"val_f1: 0.25 | train_f1=0.5\n",
                                                   [2, 5], regex=b"f1[:=] *([0-9.]+)"))
    write("metrics", "custom-nocapture", metrics_input(9, b"12.5\n-3\n", [1],
                                                       regex=b"^-?[0-9.]+$"))


# ---- token: [mode] [offset: 8 bytes LE] scope-or-token ---------------------
def token_seeds():
    clear("token")
    secret = bytes(range(32))  # fuzz_token.c's secret
    import hmac

    def make(scope, off):
        mac = hmac.new(secret, ("%s|%d" % (scope, off)).encode(), hashlib.sha256).hexdigest()
        return "%d.%s" % (off, mac[:32])
    scope = "training-jobs|123456789012|||Name|Descending|0|0|0|0"
    write("token", "read-valid", b"\x00" + struct.pack("<q", 0) + make("scope", 50).encode())
    write("token", "read-big", b"\x00" + struct.pack("<q", 0) +
          make("scope", 2**62).encode())
    write("token", "read-garbage", b"\x00" + struct.pack("<q", 0) + b"-1.zz")
    write("token", "roundtrip", b"\x01" + struct.pack("<q", 100) + scope.encode())
    write("token", "roundtrip-empty", b"\x01" + struct.pack("<q", 0))
    # A scope longer than reply.c's stack buffer: the offset must stay in the
    # mac (mode 36 changes the offset's first digit, 100 -> 300).
    write("token", "roundtrip-long-scope", bytes([36]) + struct.pack("<q", 100) + b"a" * 2100)


# ---- credentials: the file's bytes ----------------------------------------
def credentials_seeds():
    clear("credentials")
    good = {"credentials": [
        {"access_key_id": "AKIAIOSFODNN7EXAMPLE",
         "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
         "account_id": "123456789012"},
        {"access_key_id": "AKIAOPENHPOTESTKEYBB", "secret_access_key": "secret/B+openhpo-test-key-0002",
         "account_id": "210987654321"}]}
    write("credentials", "good", json.dumps(good).encode())
    bad = copy.deepcopy(good)
    bad["credentials"][1]["access_key_id"] = "AKIAIOSFODNN7EXAMPLE"
    write("credentials", "duplicate", json.dumps(bad).encode())
    bad = copy.deepcopy(good)
    bad["credentials"][0]["acount_id"] = bad["credentials"][0].pop("account_id")
    write("credentials", "misspelt", json.dumps(bad).encode())
    write("credentials", "empty-list", b'{"credentials": []}')
    write("credentials", "not-object", b'[1, 2, "x"]')


if __name__ == "__main__":
    api_seeds()
    sigv4_seeds()
    metrics_seeds()
    token_seeds()
    credentials_seeds()
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(CORPUS) for f in fs)
    print("seeds written to %s (%d bytes)" % (CORPUS, total))
