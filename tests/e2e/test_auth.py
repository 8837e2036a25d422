"""End-to-end: SigV4 authentication, accounts and throttling on both APIs."""
import datetime
import json
import os
import subprocess
import time

import pytest

from conftest import ACCOUNT, HPOD, Hpod, job_request
from test_current_api import (KEY_A, KEY_B, OTHER, SECRET_A, SECRET_B, aws_cli, client,
                              current_call, signed, training_request, write_credentials)


@pytest.fixture
def hpod_auth(tmp_path):
    d = Hpod(str(tmp_path), ["--credentials", write_credentials(tmp_path)]).start()
    yield d
    d.stop()


def nothing_stored(d):
    """Neither account has any job, through either API."""
    for key, secret, acct in ((KEY_A, SECRET_A, ACCOUNT), (KEY_B, SECRET_B, OTHER)):
        st, js = current_call(d, "ListHyperParameterTuningJobs", {}, key=key, secret=secret)
        assert st == 200 and js["HyperParameterTuningJobSummaries"] == [], js
        st, js = current_call(d, "ListTrainingJobs", {}, key=key, secret=secret)
        assert st == 200 and js["TrainingJobSummaries"] == [], js
        st, js = signed(d, "/DescribeTuningJob", {"AwsAccountId": acct, "TuningJobName": "job1"},
                        key=key, secret=secret)
        assert st == 404, js


def create_current():
    """A CreateTrainingJob call (made inside the test: its paths are the test's own)."""
    return "CreateTrainingJob", training_request("auth1")


def refused_current(d, expect_status, expect_type, **kw):
    op, body = create_current()
    st, js = current_call(d, op, body, **kw)
    assert (st, js["__type"]) == (expect_status, expect_type), js
    return js


def refused_2017(d, **kw):
    st, js = signed(d, "/CreateTuningJob", job_request(), **kw)
    assert (st, js["__type"]) == (403, "AccessForbidden"), js
    return js


def test_auth_unsigned_refused(hpod_auth):
    d = hpod_auth
    op, body = create_current()
    st, _, raw = d.raw("/", json.dumps(body).encode(), headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "SageMaker." + op})
    js = json.loads(raw)
    assert (st, js["__type"]) == (403, "MissingAuthenticationToken"), js
    st, js, _ = d.call("CreateTuningJob", job_request())
    assert (st, js["__type"]) == (403, "AccessForbidden"), js
    nothing_stored(d)


def test_auth_wrong_secret_refused(hpod_auth):
    js = refused_current(hpod_auth, 400, "InvalidSignatureException", secret="not-the-secret")
    assert "signature" in js["message"].lower()
    refused_2017(hpod_auth, secret="not-the-secret")
    nothing_stored(hpod_auth)


def test_auth_unknown_key_refused(hpod_auth):
    refused_current(hpod_auth, 400, "UnrecognizedClientException", key="AKIAUNKNOWNKEY000000")
    refused_2017(hpod_auth, key="AKIAUNKNOWNKEY000000")
    nothing_stored(hpod_auth)


def test_auth_expired_date_refused(hpod_auth):
    past = datetime.datetime.utcnow() - datetime.timedelta(minutes=20)
    js = refused_current(hpod_auth, 400, "InvalidSignatureException", when=past)
    assert "expired" in js["message"].lower()
    refused_2017(hpod_auth, when=past)
    future = datetime.datetime.utcnow() + datetime.timedelta(minutes=20)
    refused_current(hpod_auth, 400, "InvalidSignatureException", when=future)
    nothing_stored(hpod_auth)


def test_auth_tampered_body_refused(hpod_auth):
    op, body = create_current()
    evil = json.dumps(dict(body, TrainingJobName="evil")).encode()
    st, js = current_call(hpod_auth, op, body, tamper=evil)
    assert (st, js["__type"]) == (400, "InvalidSignatureException"), js
    evil17 = json.dumps(job_request("evil")).encode()
    st, js = signed(hpod_auth, "/CreateTuningJob", job_request(), tamper=evil17)
    assert (st, js["__type"]) == (403, "AccessForbidden"), js
    nothing_stored(hpod_auth)


def test_auth_wrong_account_refused_on_2017_api(hpod_auth):
    # Key B signs correctly, but names account A.
    js = refused_2017(hpod_auth, key=KEY_B, secret=SECRET_B)
    assert ACCOUNT in js["message"]
    st, js = signed(hpod_auth, "/DescribeTuningJob",
                    {"AwsAccountId": ACCOUNT, "TuningJobName": "job1"}, key=KEY_B,
                    secret=SECRET_B)
    assert (st, js["__type"]) == (403, "AccessForbidden"), js
    nothing_stored(hpod_auth)


def test_auth_signed_boto3_and_cli_accepted(hpod_auth):
    d = hpod_auth
    sm = client(d)
    sm.create_training_job(**training_request("signed1"))
    r = aws_cli(d, "list-training-jobs")
    assert r.returncode == 0, r.stderr
    assert [s["TrainingJobName"] for s in json.loads(r.stdout)["TrainingJobSummaries"]] == \
        ["signed1"]
    r = aws_cli(d, "list-training-jobs", key=KEY_B, secret=SECRET_B)
    assert r.returncode == 0 and json.loads(r.stdout)["TrainingJobSummaries"] == []
    r = aws_cli(d, "list-training-jobs", secret="wrong")
    assert r.returncode == 254 and "InvalidSignatureException" in r.stderr
    st, js = signed(d, "/CreateTuningJob", job_request("signed2", max_jobs=1, parallel=1))
    assert st == 200, js
    # /health needs no signature.
    st, _, _ = d.raw("/health", None, headers={}, method="GET")
    assert st == 200


def test_auth_throttling_per_key(tmp_path):
    d = Hpod(str(tmp_path), ["--credentials", write_credentials(tmp_path),
                             "--throttle-rate", "0.5", "--throttle-burst", "3"]).start()
    try:
        codes = [current_call(d, "ListTrainingJobs", {})[0] for _ in range(3)]
        assert codes == [200, 200, 200]
        st, js = current_call(d, "ListTrainingJobs", {})
        assert (st, js["__type"]) == (400, "ThrottlingException"), js
        st, js = signed(d, "/DescribeTuningJob", {"AwsAccountId": ACCOUNT, "TuningJobName": "x"})
        assert (st, js["__type"]) == (401, "Throttling"), js
        # Another key has its own bucket.
        st, js = current_call(d, "ListTrainingJobs", {}, key=KEY_B, secret=SECRET_B)
        assert st == 200, js
        time.sleep(2.2)
        assert current_call(d, "ListTrainingJobs", {})[0] == 200
    finally:
        d.stop()


def test_auth_default_account_without_credentials(hpod):
    # Unsigned requests act as the default account, on both APIs.
    st, _, raw = hpod.raw("/", json.dumps(training_request("anon")).encode(), headers={
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "SageMaker.CreateTrainingJob"})
    assert st == 200, raw
    assert json.loads(raw)["TrainingJobArn"].endswith(":%s:training-job/anon" % ACCOUNT)
    assert "serving loopback only" in hpod.read_log()


def test_auth_listen_elsewhere_needs_credentials_or_insecure(tmp_path):
    data = str(tmp_path / "d")
    r = subprocess.run([HPOD, "--listen", "0.0.0.0:0", "--data-dir", data], capture_output=True,
                       text=True, timeout=20)
    assert r.returncode == 2 and "--insecure" in r.stderr, r.stderr
    d = Hpod(str(tmp_path), ["--listen", "0.0.0.0:0", "--insecure"]).start()
    try:
        assert "INSECURE" in d.read_log()
    finally:
        d.stop()


def test_auth_credentials_file_must_be_private(tmp_path):
    path = write_credentials(tmp_path)
    os.chmod(path, 0o644)
    r = subprocess.run([HPOD, "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "d"),
                        "--credentials", path], capture_output=True, text=True, timeout=20)
    assert r.returncode != 0 and "chmod" in r.stderr, r.stderr
