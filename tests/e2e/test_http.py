"""End-to-end: HTTP intake. Bodies at line rate, an over-cap body answered at
once and its connection closed, slow and idle clients that cannot lock others
out (per-address limit, request deadline), x-amzn-RequestId on every answer,
and an X-Amz-Target added after signing refused."""
import json
import os
import re
import resource
import select
import socket
import time
import urllib.request

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.exceptions
import pytest

from conftest import ACCOUNT, Hpod, job_request
from test_current_api import (KEY_A, REGION, SECRET_A, client, current_call, training_request,
                              write_credentials)

HERE = os.path.dirname(os.path.abspath(__file__))
MIB = 1024 * 1024
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def http_h(name):
    """A number #defined in src/http.h (the caps live there, named once)."""
    text = open(os.path.join(HERE, "..", "..", "src", "http.h")).read()
    m = re.search(r"#define %s \(?([0-9* ]+)\)?" % name, text)
    assert m, name
    return eval(m.group(1))  # a product of literals, e.g. (256 * 1024)


@pytest.fixture
def hpod_auth(tmp_path):
    d = Hpod(str(tmp_path), ["--credentials", write_credentials(tmp_path)]).start()
    yield d
    d.stop()


def port_of(d):
    return int(d.url.rsplit(":", 1)[1])


def health(d, timeout=1.0):
    """GET /health from 127.0.0.1; returns (seconds, status)."""
    t = time.monotonic()
    with urllib.request.urlopen(d.url + "/health", timeout=timeout) as r:
        r.read()
        return time.monotonic() - t, r.status


def cpu_seconds(pid):
    fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def assert_idle(d):
    """The daemon does not spin once nothing is asked of it."""
    c0 = cpu_seconds(d.proc.pid)
    time.sleep(1.0)
    used = cpu_seconds(d.proc.pid) - c0
    assert used < 0.3, "hpod used %.2f s of CPU in 1 s idle" % used


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < n:
        pytest.skip("RLIMIT_NOFILE hard limit %d < %d: cannot open the connections" % (hard, n))
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, hard))


def parse_answer(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


def read_until_closed(s, timeout):
    """Reads until EOF or reset; returns (bytes, closed by the server)."""
    s.settimeout(timeout)
    got = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return got, True
            got += chunk
    except ConnectionResetError:
        return got, True
    except socket.timeout:
        return got, False


def over_cap(d, path, headers, total=2 * MIB, sent=64 * 1024):
    """Sends the headers of a `total`-byte body and only `sent` bytes of it,
    then reads the answer; returns (status, headers, json, closed, seconds)."""
    s = socket.create_connection(("127.0.0.1", port_of(d)))
    try:
        head = "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n" % (path, total)
        head += "".join("%s: %s\r\n" % kv for kv in headers.items()) + "\r\n"
        t = time.monotonic()
        s.sendall(head.encode() + b"{" + b" " * (sent - 1))
        raw, closed = read_until_closed(s, 5.0)
        took = time.monotonic() - t
    finally:
        s.close()
    assert raw, "no answer before the connection ended"
    st, hd, body = parse_answer(raw)
    return st, hd, json.loads(body), closed, took


def padded(body, size):
    """`body` as JSON, padded with whitespace to exactly `size` bytes."""
    raw = json.dumps(body).encode()
    return raw[:-1] + b" " * (size - len(raw)) + b"}"


# ---- line rate ---------------------------------------------------------------


def test_http_1mib_body_answered_fast(hpod):
    data = padded(job_request("big", max_jobs=1, parallel=1), MIB)
    assert len(data) == MIB  # exactly the cap: legal
    t = time.monotonic()
    st, hd, raw = hpod.raw("/CreateTuningJob", data)
    took = time.monotonic() - t
    assert st == 200, raw
    assert took < 1.0, "a 1 MiB body took %.2f s" % took
    # The current API, a 1 MiB CreateTrainingJob.
    data = padded(training_request("big1"), MIB)
    t = time.monotonic()
    st, hd, raw = hpod.raw("/", data, headers={
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "SageMaker.CreateTrainingJob"})
    took = time.monotonic() - t
    assert st == 200, raw
    assert took < 1.0, "a 1 MiB body took %.2f s" % took


# ---- over the cap ------------------------------------------------------------


def test_http_over_cap_refused_at_once_and_closed(hpod):
    # 2017 API.
    st, hd, js, closed, took = over_cap(hpod, "/CreateTuningJob",
                                        {"Content-Type": "application/json"})
    assert (st, js["__type"]) == (400, "ValidationError"), js
    assert "1048576" in js["message"]
    assert hd["connection"].lower() == "close" and closed
    assert UUID4.match(hd["x-amzn-requestid"]), hd
    assert took < 1.0, took
    # Current API.
    st, hd, js, closed, took = over_cap(hpod, "/", {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "SageMaker.CreateTrainingJob"}, total=16 * MIB)
    assert (st, js["__type"]) == (400, "ValidationException"), js
    assert hd["connection"].lower() == "close" and closed and took < 1.0
    # Nothing stored, the daemon still serves and is idle again.
    st, js, _ = hpod.call("ListTrainingJobsForTuningJob",
                          {"AwsAccountId": ACCOUNT, "TuningJobName": "job1"})
    assert st == 404, js
    assert health(hpod)[1] == 200
    assert_idle(hpod)


def test_http_over_cap_refused_before_signature(hpod_auth):
    # Signed or not, the body was not read: a ValidationException, not a
    # signature error, and nothing runs.
    st, hd, js, closed, _ = over_cap(hpod_auth, "/", {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "SageMaker.CreateTrainingJob"})
    assert (st, js["__type"]) == (400, "ValidationException") and closed, js
    st, js = current_call(hpod_auth, "ListTrainingJobs", {})
    assert st == 200 and js["TrainingJobSummaries"] == [], js


def test_http_chunked_over_cap_refused(hpod):
    # No Content-Length to refuse from: the chunks past the cap are dropped
    # unread and the request answered at its end.
    s = socket.create_connection(("127.0.0.1", port_of(hpod)))
    try:
        s.sendall(b"POST /CreateTuningJob HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b" " * 65536
        t = time.monotonic()
        for _ in range(32):  # 2 MiB
            s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        s.sendall(b"0\r\n\r\n")
        raw, closed = read_until_closed(s, 5.0)
    finally:
        s.close()
    st, hd, body = parse_answer(raw)
    assert (st, json.loads(body)["__type"]) == (400, "ValidationError"), raw
    assert closed and time.monotonic() - t < 2.0
    assert health(hpod)[1] == 200


# ---- slow and idle clients ---------------------------------------------------


def open_many(port, n, sources):
    """n connections to port, spread over the source addresses."""
    socks = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5,
                                     source_address=(sources[i % len(sources)], 0))
        s.setblocking(False)
        socks.append(s)
    return socks


def closed_by_server(s):
    try:
        return s.recv(4096) == b""
    except BlockingIOError:
        return False
    except (ConnectionResetError, OSError):
        return True


def watch_health(d, seconds, each=None):
    """GET /health every second for `seconds` s (each within 1 s); calls each()."""
    worst = 0.0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        took, st = health(d, timeout=1.0)
        assert st == 200
        worst = max(worst, took)
        if each:
            each()
        time.sleep(max(0.0, 1.0 - took))
    return worst


def test_http_trickling_connections_do_not_lock_out(hpod):
    raise_nofile(1024)
    deadline = http_h("HTTP_REQUEST_DEADLINE_MS") / 1000.0
    sources = ["127.0.0.%d" % i for i in range(2, 12)]  # 60 each: under the per-IP limit
    t0 = time.monotonic()
    socks = open_many(port_of(hpod), 600, sources)
    request = b"POST /CreateTuningJob HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    sent = [0]
    last = [0.0]

    def trickle():
        if time.monotonic() - last[0] < 5.0:
            return
        last[0] = time.monotonic()
        for s in socks:
            try:
                s.send(request[sent[0]:sent[0] + 1])
            except OSError:
                pass
        sent[0] += 1

    try:
        worst = watch_health(hpod, deadline + 2.0, trickle)
        assert worst < 1.0
        # The deadline has passed for every one of them: the server closed them.
        end = t0 + deadline + 5.0
        while time.monotonic() < end and not all(closed_by_server(s) for s in socks):
            time.sleep(0.2)
        still = sum(not closed_by_server(s) for s in socks)
        assert still == 0, "%d trickling connections still open after %.0f s" % (
            still, time.monotonic() - t0)
    finally:
        for s in socks:
            s.close()
    assert_idle(hpod)


def test_http_idle_connections_do_not_lock_out(hpod):
    raise_nofile(2600)
    deadline = http_h("HTTP_REQUEST_DEADLINE_MS") / 1000.0
    sources = ["127.0.0.%d" % i for i in range(2, 12)]  # 200 each: under the per-IP limit
    t0 = time.monotonic()
    socks = open_many(port_of(hpod), 2000, sources)
    try:
        opened = time.monotonic() - t0
        worst = watch_health(hpod, 4.0)
        assert worst < 1.0
        # A real request still gets through and is answered.
        st, js, _ = hpod.call("DescribeTuningJob", {"AwsAccountId": ACCOUNT,
                                                    "TuningJobName": "none"})
        assert st == 404, js
        end = t0 + opened + deadline + 5.0
        while time.monotonic() < end and not all(closed_by_server(s) for s in socks):
            time.sleep(0.2)
        still = sum(not closed_by_server(s) for s in socks)
        assert still == 0, "%d idle connections still open" % still
    finally:
        for s in socks:
            s.close()
    assert health(hpod)[1] == 200


def test_http_per_address_limit(hpod):
    limit = http_h("HTTP_MAX_CONNECTIONS_PER_IP")
    raise_nofile(limit + 512)
    socks = open_many(port_of(hpod), limit + 40, ["127.0.0.12"])
    try:
        time.sleep(1.0)
        closed = sum(closed_by_server(s) for s in socks)
        assert closed == 40, "%d of %d refused; the limit is %d" % (closed, len(socks), limit)
        # Another address is not affected.
        assert health(hpod)[1] == 200
    finally:
        for s in socks:
            s.close()
    # Once they are gone the address may connect again.
    time.sleep(0.3)
    s = socket.create_connection(("127.0.0.1", port_of(hpod)), source_address=("127.0.0.12", 0))
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    raw, _ = read_until_closed(s, 2.0)
    s.close()
    assert parse_answer(raw)[0] == 200


# ---- x-amzn-RequestId --------------------------------------------------------


def test_http_request_id_on_every_answer(hpod):
    ids = []

    def rid(hd):
        hd = {k.lower(): v for k, v in hd.items()}
        assert UUID4.match(hd.get("x-amzn-requestid", "")), hd
        ids.append(hd["x-amzn-requestid"])

    st, js, hd = hpod.call("CreateTuningJob", job_request("rid", max_jobs=1, parallel=1))
    assert st == 200, js
    rid(hd)
    st, js, hd = hpod.call("DescribeTuningJob", {"AwsAccountId": ACCOUNT, "TuningJobName": "no"})
    assert st == 404
    rid(hd)
    st, js, hd = hpod.call("CreateTuningJob", {"AwsAccountId": ACCOUNT})  # ValidationError
    assert st == 400
    rid(hd)
    for target, body in (("ListTrainingJobs", {}), ("DescribeTrainingJob",
                                                   {"TrainingJobName": "no"})):
        st, hd, raw = hpod.raw("/", json.dumps(body).encode(), headers={
            "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "SageMaker." + target})
        rid(hd)
    st, hd, raw = hpod.raw("/health", None, headers={}, method="GET")
    assert st == 200
    rid(hd)
    st, hd, raw = hpod.raw("/openhpo/logs/%s/nojob/0" % ACCOUNT, None, headers={}, method="GET")
    assert st == 404 or st == 400, (st, raw)
    rid(hd)
    st, hd, raw = hpod.raw("/NoSuchThing", b"{}")
    rid(hd)
    assert len(set(ids)) == len(ids), ids
    # Each is in the daemon's log line for its request.
    time.sleep(0.2)
    log = open(os.path.join(hpod.tmp, "hpod.log"), errors="replace").read()
    for i in ids:
        assert i in log, i
    line = [ln for ln in log.splitlines() if ids[1] in ln][0]
    assert "POST /DescribeTuningJob 404" in line, line


def test_http_boto3_request_id(hpod):
    sm = client(hpod)
    r = sm.list_training_jobs()
    assert UUID4.match(r["ResponseMetadata"]["RequestId"]), r["ResponseMetadata"]
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sm.describe_training_job(TrainingJobName="absent")
    assert UUID4.match(ei.value.response["ResponseMetadata"]["RequestId"])
    assert ei.value.response["ResponseMetadata"]["RequestId"] != r["ResponseMetadata"]["RequestId"]


# ---- a changed, unsigned X-Amz-Target ---------------------------------------


def test_http_unsigned_target_refused(hpod_auth):
    d = hpod_auth
    body = json.dumps(training_request("tampered")).encode()
    # Signed as a harmless request without X-Amz-Target in SignedHeaders ...
    req = botocore.awsrequest.AWSRequest(method="POST", url=d.url + "/", data=body,
                                         headers={"Content-Type": "application/x-amz-json-1.1"})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(KEY_A, SECRET_A), "sagemaker",
                            REGION).add_auth(req)
    headers = dict(req.headers.items())
    assert "x-amz-target" not in headers["Authorization"]
    # ... then the operation is set on the way.
    headers["X-Amz-Target"] = "SageMaker.CreateTrainingJob"
    st, hd, raw = d.raw("/", body, headers=headers)
    js = json.loads(raw)
    assert (st, js["__type"]) == (400, "IncompleteSignatureException"), js
    assert "X-Amz-Target" in js["message"]
    st, js = current_call(d, "ListTrainingJobs", {})
    assert st == 200 and js["TrainingJobSummaries"] == [], js
    # Signed properly, the same request runs.
    st, js = current_call(d, "CreateTrainingJob", training_request("tampered"))
    assert st == 200, js
