#!/usr/bin/python3
"""Regenerates the botocore-*.sreq / botocore-*.creq vectors of test_sigv4.

Signs SageMaker requests with botocore's own SigV4Auth / SigV4QueryAuth (the
signer boto3 and the AWS CLI use) at a fixed time with a fixed example key,
and writes each as it would arrive at hpod: request line, headers (with the
unsigned ones the HTTP client adds after signing), blank line, body. The
files are committed; `make unit` only reads them, so it stays deterministic.

    cd tests/unit/data/sigv4 && /usr/bin/python3 gen_botocore.py
"""
import datetime
from datetime import timedelta as _timedelta
import json
import sys
from urllib.parse import urlsplit

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

AKID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "FQoGZXIvYXdzEXAMPLE//////////wEaDEXAMPLETOKEN+/=="
REGION = "us-west-2"
NOW = datetime.datetime(2024, 1, 15, 10, 30, 0)  # 20240115T103000Z


class _FixedDatetime(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return NOW


class _FixedClock:
    """Stands in for the datetime module inside botocore.auth."""

    datetime = _FixedDatetime
    timedelta = _timedelta


botocore.auth.datetime = _FixedClock


def host_of(url):
    return urlsplit(url).netloc


def write(name, method, url, headers, body, creq=None):
    parts = urlsplit(url)
    target = parts.path + ("?" + parts.query if parts.query else "")
    lines = [f"{method} {target} HTTP/1.1"]
    lines += [f"{k}:{v}" for k, v in headers]
    text = "\n".join(lines)
    if body:
        text += "\n\n" + body.decode("utf-8")
    with open(name + ".sreq", "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    if creq is not None:
        with open(name + ".creq", "w", encoding="utf-8", newline="\n") as f:
            f.write(creq)
    print(name)


def header_signed(name, url, target, body, token=None, extra=()):
    creds = Credentials(AKID, SECRET, token)
    req = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": target,
            "User-Agent": "Boto3/1.26.27 Python/3.11.2 Linux/6.1 Botocore/1.29.27",
            "amz-sdk-invocation-id": "5a1e7c6e-2d1b-4b8e-9a47-0c2f6f1e3d2a",
            "amz-sdk-request": "attempt=1",
            **dict(extra),
        },
    )
    auth = botocore.auth.SigV4Auth(creds, "sagemaker", REGION)
    auth.add_auth(req)
    authz = req.headers["Authorization"]
    del req.headers["Authorization"]
    creq = auth.canonical_request(req)  # as signed: without Authorization
    req.headers["Authorization"] = authz
    # What the HTTP client sends: Host and Content-Length come after signing.
    headers = [("Host", host_of(url))] + list(req.headers.items())
    headers.append(("Content-Length", str(len(body))))
    write(name, "POST", url, headers, body, creq)


def main():
    body = json.dumps(
        {
            "HyperParameterTuningJobName": "xgb-tune-1",
            "HyperParameterTuningJobConfig": {
                "Strategy": "Bayesian",
                "ResourceLimits": {"MaxNumberOfTrainingJobs": 20, "MaxParallelTrainingJobs": 2},
                "ParameterRanges": {
                    "ContinuousParameterRanges": [
                        {"Name": "eta", "MinValue": "0.01", "MaxValue": "0.5"}
                    ]
                },
            },
            "Tags": [{"Key": "owner", "Value": "r\u00e9mi \u2603"}],
        },
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode("utf-8")
    header_signed(
        "botocore-create-tuning-job",
        "http://localhost:8080/",
        "SageMaker.CreateHyperParameterTuningJob",
        body,
    )
    header_signed(
        "botocore-session-token",
        "http://127.0.0.1:9443/",
        "SageMaker.DescribeHyperParameterTuningJob",
        b'{"HyperParameterTuningJobName":"xgb-tune-1"}',
        token=TOKEN,
    )
    header_signed(
        "botocore-path-query",
        "http://localhost:8080/a%20b/./c//d/?z=1&b=%2F%20x&a=&b=0",
        "SageMaker.ListHyperParameterTuningJobs",
        b"{}",
        extra=[("X-Custom", "  spaced   out  ")],
    )

    # A presigned (query-string) request, valid for 300 seconds.
    creds = Credentials(AKID, SECRET)
    req = AWSRequest(method="GET", url="http://localhost:8080/?Action=ListThings&Version=1")
    botocore.auth.SigV4QueryAuth(creds, "sagemaker", REGION, expires=300).add_auth(req)
    write("botocore-presigned", "GET", req.url, [("Host", "localhost:8080")], b"")


if __name__ == "__main__":
    sys.exit(main())
