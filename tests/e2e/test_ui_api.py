"""End-to-end: the dashboard's server side (docs/DASHBOARD.md) against the real
hpod: the embedded files, each JSON endpoint's shape for a finished and a
running tuning job, the CSV export, the log tail, the stop, and sign-in with
--credentials (cookie, CSRF, accounts)."""
import csv
import io
import json
import os
import time
import urllib.error
import urllib.request

import pytest

from conftest import ACCOUNT, Hpod, job_request
from test_current_api import (KEY_A, KEY_B, OTHER, SECRET_A, SECRET_B, b_dir, signed,
                              training_request, tuning_request, write_credentials)

HERE = os.path.dirname(os.path.abspath(__file__))
DIST = os.path.join(HERE, "..", "..", "ui", "dist")


def http(d, path, method="GET", body=None, headers=None, cookie=None):
    """(status, headers, body bytes) of one request to the daemon."""
    h = dict(headers or {})
    if cookie:
        h["Cookie"] = cookie
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    req = urllib.request.Request(d.url + path, data=data, headers=h, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def get_json(d, path, cookie=None, expect=200):
    st, hd, raw = http(d, path, cookie=cookie)
    assert st == expect, (path, st, raw)
    assert hd["Content-Type"].startswith("application/json"), hd
    return json.loads(raw)


def post_json(d, path, body=None, cookie=None, csrf=None, headers=None):
    h = {"Content-Type": "application/json"}
    if csrf:
        h["X-CSRF-Token"] = csrf
    h.update(headers or {})
    st, hd, raw = http(d, path, "POST", {} if body is None else body, h, cookie)
    return st, hd, json.loads(raw) if raw else None


def wait_for(fn, timeout=60, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def ui_tuning(d, name, cookie=None):
    return get_json(d, "/ui/api/tuning-jobs/" + name, cookie)


TUNING_KEYS = {"name", "status", "strategy", "created", "ended", "objective", "best", "counts",
               "max_jobs", "max_parallel", "completion_reason"}
COUNT_KEYS = {"completed", "in_progress", "stopped", "failed", "retryable_error",
              "non_retryable_error"}
TRAINING_ROW_KEYS = {"name", "status", "hyperparameters", "objective", "created", "started",
                     "ended", "failure_reason", "early_stopped", "definition"}
TRAINING_KEYS = {"name", "status", "tuning_job", "hyperparameters", "objective",
                 "final_objective", "metrics", "objective_curve", "transitions",
                 "failure_reason", "created", "started", "ended"}


def check_tuning_shape(t):
    assert TUNING_KEYS <= set(t), t
    assert set(t["counts"]) == COUNT_KEYS, t["counts"]
    assert t["objective"] == {"metric": "accuracy", "type": "Maximize"}, t
    assert isinstance(t["created"], (int, float)), t


# ---- files ----

def test_ui_files(hpod):
    d = hpod
    st, hd, raw = http(d, "/ui/")
    assert st == 200 and hd["Content-Type"].startswith("text/html"), (st, hd)
    with open(os.path.join(DIST, "index.html"), "rb") as f:
        assert raw == f.read()
    etag = hd["ETag"]
    assert etag.startswith('"') and hd["X-Frame-Options"] == "DENY", hd
    assert "default-src 'self'" in hd["Content-Security-Policy"], hd
    st, _, raw = http(d, "/ui/", headers={"If-None-Match": etag})
    assert st == 304 and raw == b""
    # Every embedded asset, with its type by extension.
    assets = sorted(os.listdir(os.path.join(DIST, "assets")))
    assert assets, "ui/dist/assets is empty"
    types = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml",
             ".map": "application/json", ".png": "image/png", ".woff2": "font/woff2"}
    for a in assets:
        st, hd, raw = http(d, "/ui/assets/" + a)
        assert st == 200, a
        with open(os.path.join(DIST, "assets", a), "rb") as f:
            assert raw == f.read(), a
        ext = os.path.splitext(a)[1]
        if ext in types:
            assert hd["Content-Type"].startswith(types[ext]), (a, hd["Content-Type"])
    # Hash routing: any other page is index.html; a missing asset is 404.
    st, _, raw = http(d, "/ui/tuning/whatever")
    assert st == 200 and b"<html" in raw.lower()
    st, _, _ = http(d, "/ui/assets/no-such-file.js")
    assert st == 404
    st, hd, _ = http(d, "/ui/api/nothing-here")
    assert st == 404
    # /ui redirects; files are read with GET only.
    req = urllib.request.Request(d.url + "/ui", method="GET")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None
    try:
        urllib.request.build_opener(NoRedirect).open(req, timeout=10)
        raise AssertionError("no redirect")
    except urllib.error.HTTPError as e:
        assert e.code == 301 and e.headers["Location"] == "/ui/"
    st, _, _ = http(d, "/ui/", "PUT", b"x", {"Content-Type": "application/json"})
    assert st == 405


def test_ui_loopback_host_only_without_credentials(hpod):
    st, _, raw = http(hpod, "/ui/api/session", headers={"Host": "evil.example:80"})
    assert st == 403 and b"loopback" in raw, raw
    st, _, _ = http(hpod, "/ui/", headers={"Host": "rebound.example"})
    assert st == 403
    s = get_json(hpod, "/ui/api/session")
    assert s == {"auth_required": False, "signed_in": False, "account": ACCOUNT, "csrf": None}
    st, _, _ = http(hpod, "/ui/api/session", headers={"Host": "localhost"})
    assert st == 200


# ---- a finished tuning job ----

def test_ui_finished_tuning_job(hpod):
    d = hpod
    d.ok("CreateTuningJob", job_request("done1", max_jobs=8, parallel=4))
    d.wait_status("done1", ["Completed"], timeout=120)
    lst = get_json(d, "/ui/api/tuning-jobs")["tuning_jobs"]
    assert [t["name"] for t in lst] == ["done1"]
    t = lst[0]
    check_tuning_shape(t)
    assert t["status"] == "Completed" and t["strategy"] == "Bayesian", t
    assert t["counts"] == {"completed": 8, "in_progress": 0, "stopped": 0, "failed": 0,
                           "retryable_error": 0, "non_retryable_error": 0}, t
    assert t["max_jobs"] == 8 and t["max_parallel"] == 4 and t["ended"] >= t["created"]

    det = ui_tuning(d, "done1")
    check_tuning_shape(det)
    assert det["completion_reason"] == "MaxNumberOfTrainingJobs reached", det
    by_name = {r["name"]: r for r in det["ranges"]}
    assert by_name["x"] == {"name": "x", "type": "Continuous", "min": -5.0, "max": 10.0,
                            "scale": "Linear", "values": []}, by_name
    assert by_name["n"]["type"] == "Integer" and by_name["n"]["max"] == 15
    assert by_name["kind"]["type"] == "Categorical"
    assert by_name["kind"]["values"] == ["a", "b", "c"]
    jobs = det["training_jobs"]
    assert len(jobs) == 8
    for j in jobs:
        assert set(j) == TRAINING_ROW_KEYS, j
        assert j["status"] == "Completed" and isinstance(j["objective"], float), j
        assert set(j["hyperparameters"]) == {"x", "n", "kind"}, j
        assert j["started"] >= j["created"] and j["ended"] >= j["started"], j
        assert j["failure_reason"] is None and j["early_stopped"] is False, j
    # Creation order, and the best is the highest objective (Maximize).
    assert [j["created"] for j in jobs] == sorted(j["created"] for j in jobs)
    best = max(jobs, key=lambda j: j["objective"])
    assert det["best"] == {"training_job": best["name"], "value": best["objective"]}, det
    # The same as the API says.
    desc = d.describe("done1")
    assert desc["BestTrainingJob"]["TrainingJobName"] == best["name"]
    imp = det["importances"]
    assert isinstance(imp, list)
    if imp:  # empty only when no parameter explains anything (then all scores are 0)
        assert {i["name"] for i in imp} == {"x", "n", "kind"}, imp
        assert abs(sum(i["importance"] for i in imp) - 1) < 1e-9, imp
        assert [i["importance"] for i in imp] == sorted(
            (i["importance"] for i in imp), reverse=True)

    # One training job: metrics, curve, transitions.
    name = best["name"]
    tj = get_json(d, "/ui/api/training-jobs/" + name)
    assert set(tj) == TRAINING_KEYS, tj
    assert tj["tuning_job"] == "done1" and tj["status"] == "Completed"
    assert tj["objective"] == {"metric": "accuracy", "type": "Maximize"}
    assert tj["final_objective"] == best["objective"]
    assert tj["hyperparameters"]["mode"] == "normal"
    assert tj["hyperparameters"]["kind"] == best["hyperparameters"]["kind"]
    assert set(tj["metrics"]) == {"accuracy", "loss"}, tj["metrics"]
    loss = tj["metrics"]["loss"]
    assert [p[1] for p in loss] == [1, 2, 3], loss
    assert [round(p[2], 4) for p in loss] == [1.0, 0.5, 0.3333], loss
    assert all(tj["created"] <= p[0] <= tj["ended"] + 5 for p in loss), (loss, tj)
    acc = tj["metrics"]["accuracy"]
    assert len(acc) == 1 and abs(acc[0][2] - tj["final_objective"]) < 1e-5, acc
    assert tj["objective_curve"] == [[1, acc[0][2]]], tj["objective_curve"]
    statuses = [x["status"] for x in tj["transitions"]]
    assert statuses[0] == "Starting" and "Training" in statuses, statuses
    assert statuses[-1] == "Completed", statuses
    times = [x["time"] for x in tj["transitions"]]
    assert times == sorted(times), times
    get_json(d, "/ui/api/training-jobs/no-such-job", expect=404)
    get_json(d, "/ui/api/training-jobs/bad%20name", expect=404)

    # The log tail, through the backend.
    lg = get_json(d, "/ui/api/training-jobs/%s/log?offset=0" % name)
    assert "accuracy=" in lg["text"] and "epoch 2 loss" in lg["text"], lg
    assert lg["complete"] is True and lg["next_offset"] == len(lg["text"].encode()), lg
    part = get_json(d, "/ui/api/training-jobs/%s/log?offset=6" % name)
    assert part["text"] == lg["text"][6:] and part["next_offset"] == lg["next_offset"]
    end = get_json(d, "/ui/api/training-jobs/%s/log?offset=%d" % (name, lg["next_offset"]))
    assert end == {"text": "", "next_offset": lg["next_offset"], "complete": True}, end
    for bad in ("-1", "abc", "1x"):
        get_json(d, "/ui/api/training-jobs/%s/log?offset=%s" % (name, bad), expect=400)

    # The CSV: one row per training job.
    st, hd, raw = http(d, "/ui/api/tuning-jobs/done1/csv")
    assert st == 200 and hd["Content-Type"].startswith("text/csv"), hd
    assert hd["Content-Disposition"] == 'attachment; filename="done1.csv"', hd
    rows = list(csv.reader(io.StringIO(raw.decode())))
    assert rows[0] == ["name", "status", "objective", "x", "n", "kind", "started", "ended",
                       "failure_reason"], rows[0]
    assert len(rows) == 1 + 8
    assert [r[0] for r in rows[1:]] == [j["name"] for j in jobs]
    for r, j in zip(rows[1:], jobs):
        assert r[1] == "Completed" and float(r[2]) == j["objective"], (r, j)
        assert r[3:6] == [j["hyperparameters"][k] for k in ("x", "n", "kind")], (r, j)
        assert r[6].endswith("Z") and r[6][:4].isdigit() and r[8] == "", r
    st, _, _ = http(d, "/ui/api/tuning-jobs/nope/csv")
    assert st == 404
    # A finished job cannot be stopped.
    st, _, js = post_json(d, "/ui/api/tuning-jobs/done1/stop")
    assert st == 400 and "error" in js, (st, js)


def test_ui_failed_training_jobs(hpod):
    d = hpod
    d.ok("CreateTuningJob", job_request("crash1", max_jobs=2, parallel=2,
                                        static={"mode": "failurefile"}))
    d.wait_status("crash1", ["Completed", "Failed"], timeout=120)
    det = ui_tuning(d, "crash1")
    assert det["counts"]["failed"] == 2 and det["counts"]["non_retryable_error"] == 2, det
    assert det["best"] is None and det["importances"] == [], det
    for j in det["training_jobs"]:
        assert j["status"] == "Failed" and j["objective"] is None, j
        assert "learning rate too high" in j["failure_reason"], j
    st, _, raw = http(d, "/ui/api/tuning-jobs/crash1/csv")
    rows = list(csv.reader(io.StringIO(raw.decode())))
    assert len(rows) == 3 and all("learning rate too high" in r[-1] for r in rows[1:]), rows
    tj = get_json(d, "/ui/api/training-jobs/" + det["training_jobs"][0]["name"])
    assert tj["final_objective"] is None and "learning rate" in tj["failure_reason"]
    assert tj["transitions"][-1]["status"] == "Failed", tj["transitions"]


def current_unsigned(d, op, body):
    st, _, raw = d.raw("/", json.dumps(body).encode(), headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "SageMaker." + op})
    assert st == 200, (op, st, raw)


def test_ui_current_api_jobs(hpod):
    """A current-API tuning job (scales as given / as resolved) and a training
    job created on its own (no tuning job, not in the list)."""
    d = hpod
    current_unsigned(d, "CreateHyperParameterTuningJob", tuning_request("cur1", max_jobs=2))
    current_unsigned(d, "CreateTrainingJob", training_request("solo1"))
    tj = wait_for(lambda: (lambda j: j if j["status"] == "Completed" else None)(
        get_json(d, "/ui/api/training-jobs/solo1")), what="solo1 Completed")
    assert tj["tuning_job"] is None and tj["hyperparameters"]["x"] == "2.5", tj
    # No tuning, no objective: its metrics are all there is.
    assert tj["objective"] is None and tj["final_objective"] is None, tj
    assert tj["objective_curve"] == [], tj
    assert round(tj["metrics"]["accuracy"][0][2], 4) == 1.0, tj
    d_cur = wait_for(lambda: (lambda t: t if t["status"] == "Completed" else None)(
        ui_tuning(d, "cur1")), timeout=120, what="cur1 Completed")
    scales = {r["name"]: r["scale"] for r in d_cur["ranges"]}
    assert scales == {"x": "Linear", "n": "Logarithmic", "kind": "Auto"}, scales
    assert len(d_cur["training_jobs"]) == 2 and d_cur["strategy"] == "Bayesian"
    names = [t["name"] for t in get_json(d, "/ui/api/tuning-jobs")["tuning_jobs"]]
    assert names == ["cur1"], names
    # Names are looked up as the APIs do: case-insensitively.
    assert ui_tuning(d, "CUR1")["name"] == "cur1"


# ---- a running tuning job, and its stop ----

def test_ui_running_tuning_job_and_stop(hpod):
    d = hpod
    d.ok("CreateTuningJob", job_request("run1", max_jobs=4, parallel=2,
                                        static={"mode": "sleep", "sleep": "120"}))

    def two_running():
        det = ui_tuning(d, "run1")
        started = [j for j in det["training_jobs"] if j["started"]]
        return det if len(started) == 2 else None
    det = wait_for(two_running, what="two started training jobs")
    check_tuning_shape(det)
    assert det["status"] == "InProgress" and det["ended"] is None, det
    assert det["completion_reason"] is None and det["best"] is None, det
    assert det["counts"]["in_progress"] == 2 and det["counts"]["completed"] == 0, det
    lst = get_json(d, "/ui/api/tuning-jobs")["tuning_jobs"]
    assert lst[0]["name"] == "run1" and lst[0]["status"] == "InProgress"
    name = det["training_jobs"][0]["name"]
    j0 = det["training_jobs"][0]
    assert j0["status"] == "InProgress" and j0["ended"] is None and j0["objective"] is None

    # Live metrics: the heartbeat's loss lines arrive while it runs.
    def has_loss():
        tj = get_json(d, "/ui/api/training-jobs/" + name)
        return tj if len(tj["metrics"]["loss"]) >= 2 else None
    tj = wait_for(has_loss, what="live loss points")
    assert tj["status"] == "InProgress" and tj["ended"] is None and tj["started"]
    assert tj["metrics"]["accuracy"] == [] and tj["objective_curve"] == [], tj
    assert [p[1] for p in tj["metrics"]["loss"]][:2] == [1, 2]

    def has_log():
        lg = get_json(d, "/ui/api/training-jobs/%s/log" % name)
        return lg if "heartbeat" in lg["text"] else None
    lg = wait_for(has_log, what="the live log")
    assert lg["complete"] is False and lg["next_offset"] == len(lg["text"].encode()), lg

    # The stop: a JSON POST from the same origin.
    st, _, js = post_json(d, "/ui/api/tuning-jobs/run1/stop", headers={"Content-Type":
                                                                       "text/plain"})
    assert st == 400, js
    st, _, js = post_json(d, "/ui/api/tuning-jobs/run1/stop",
                          headers={"Origin": "http://evil.example"})
    assert st == 403, js
    st, _, js = post_json(d, "/ui/api/tuning-jobs/run1/stop",
                          headers={"Sec-Fetch-Site": "cross-site"})
    assert st == 403, js
    st, hd, _ = http(d, "/ui/api/tuning-jobs/run1/stop")
    assert st == 405
    assert ui_tuning(d, "run1")["status"] == "InProgress"
    st, _, js = post_json(d, "/ui/api/tuning-jobs/run1/stop",
                          headers={"Origin": d.url})
    assert (st, js) == (200, {"status": "Stopping"}), (st, js)
    st, _, js = post_json(d, "/ui/api/tuning-jobs/nope/stop")
    assert st == 404, js
    d.wait_status("run1", ["Stopped"], timeout=60)
    det = ui_tuning(d, "run1")
    assert det["status"] == "Stopped" and det["completion_reason"].startswith("Stopped"), det
    for j in det["training_jobs"]:
        assert j["status"] == "Stopped" and j["early_stopped"] is False, j
    assert det["counts"]["stopped"] == len(det["training_jobs"]), det
    lg = get_json(d, "/ui/api/training-jobs/%s/log" % name)
    assert lg["complete"] is True


# ---- sign-in with --credentials ----

@pytest.fixture
def hpod_auth(tmp_path):
    d = Hpod(str(tmp_path), ["--credentials", write_credentials(tmp_path)]).start()
    yield d
    d.cleanup()


def login(d, key=KEY_A, secret=SECRET_A):
    st, hd, js = post_json(d, "/ui/api/login", {"access_key": key, "secret": secret})
    assert st == 200, js
    sc = hd["Set-Cookie"]
    attrs = [a.strip() for a in sc.split(";")]
    assert "HttpOnly" in attrs and "SameSite=Strict" in attrs and "Path=/ui" in attrs, sc
    assert "Secure" not in attrs
    cookie = attrs[0]
    assert cookie.startswith("hpo_session=")
    return cookie, js


def test_ui_sign_in(hpod_auth):
    d = hpod_auth
    s = get_json(d, "/ui/api/session")
    assert s == {"auth_required": True, "signed_in": False, "account": None, "csrf": None}
    for path in ("/ui/api/tuning-jobs", "/ui/api/tuning-jobs/job1",
                 "/ui/api/tuning-jobs/job1/csv", "/ui/api/training-jobs/x",
                 "/ui/api/training-jobs/x/log"):
        st, _, raw = http(d, path)
        assert st == 401 and "error" in json.loads(raw), (path, st)
    # The files need no sign-in (the page shows the form).
    assert http(d, "/ui/")[0] == 200
    # Wrong secret, unknown key, bad bodies.
    st, hd, js = post_json(d, "/ui/api/login", {"access_key": KEY_A, "secret": SECRET_B})
    assert st == 401 and "Set-Cookie" not in hd, js
    st, _, js = post_json(d, "/ui/api/login", {"access_key": "AKIANOSUCHKEY0000000",
                                               "secret": SECRET_A})
    assert st == 401, js
    st, _, js = post_json(d, "/ui/api/login", {"access_key": KEY_A})
    assert st == 400, js
    st, _, _ = http(d, "/ui/api/login", "POST", json.dumps(
        {"access_key": KEY_A, "secret": SECRET_A}).encode(),
        {"Content-Type": "application/x-www-form-urlencoded"})
    assert st == 400
    st, _, _ = post_json(d, "/ui/api/login", {"access_key": KEY_A, "secret": SECRET_A},
                         headers={"Origin": "http://evil.example"})
    assert st == 403

    cookie, js = login(d)
    assert js["signed_in"] is True and js["account"] == ACCOUNT and js["csrf"], js
    s = get_json(d, "/ui/api/session", cookie)
    assert s == {"auth_required": True, "signed_in": True, "account": ACCOUNT,
                 "csrf": js["csrf"]}, s
    assert get_json(d, "/ui/api/tuning-jobs", cookie) == {"tuning_jobs": []}
    # A tampered cookie is no session: its MAC, its account, its expiry.
    value = cookie.split("=", 1)[1]
    v, acct, expiry, key, mac = value.split(".")
    flipped = mac[:-1] + ("0" if mac[-1] != "0" else "1")
    for bad in (".".join([v, acct, expiry, key, flipped]),
                ".".join([v, OTHER, expiry, key, mac]),
                ".".join([v, acct, str(int(expiry) + 1000), key, mac]),
                ".".join([v, acct, expiry, KEY_B, mac]),
                value[:-2], "garbage"):
        st, _, _ = http(d, "/ui/api/tuning-jobs", cookie="hpo_session=" + bad)
        assert st == 401, bad
        s = get_json(d, "/ui/api/session", "hpo_session=" + bad)
        assert s["signed_in"] is False and s["csrf"] is None, (bad, s)
    # Logout clears the cookie.
    st, hd, js = post_json(d, "/ui/api/logout", cookie=cookie)
    assert st == 200 and "Max-Age=0" in hd["Set-Cookie"], hd
    # Guessing is throttled per client address: past the burst, 429, even
    # for the right secret (so the throttle cannot be used as an oracle).
    got = [post_json(d, "/ui/api/login", {"access_key": KEY_A, "secret": "guess%d" % i})[0]
           for i in range(25)]
    assert set(got) <= {401, 429} and 429 in got, got
    st, _, _ = post_json(d, "/ui/api/login", {"access_key": KEY_A, "secret": SECRET_A})
    assert st == 429


def test_ui_accounts_and_csrf(hpod_auth, tmp_path):
    d = hpod_auth
    st, js = signed(d, "/CreateTuningJob", job_request(
        "joba", max_jobs=2, parallel=2, static={"mode": "sleep", "sleep": "120"}))
    assert st == 200, js
    st, js = signed(d, "/CreateTuningJob", job_request(
        "jobb", account=OTHER, max_jobs=1, parallel=1, s3_dir=b_dir(tmp_path)),
        key=KEY_B, secret=SECRET_B)
    assert st == 200, js
    ca, sa = login(d)
    cb, sb = login(d, KEY_B, SECRET_B)
    assert sb["account"] == OTHER
    assert [t["name"] for t in get_json(d, "/ui/api/tuning-jobs", ca)["tuning_jobs"]] == ["joba"]
    assert [t["name"] for t in get_json(d, "/ui/api/tuning-jobs", cb)["tuning_jobs"]] == ["jobb"]
    # Another account's job is unknown.
    get_json(d, "/ui/api/tuning-jobs/jobb", ca, expect=404)
    assert http(d, "/ui/api/tuning-jobs/jobb/csv", cookie=ca)[0] == 404
    det_b = wait_for(lambda: ui_tuning(d, "jobb", cb)["training_jobs"], what="B's training job")
    b_job = det_b[0]["name"]
    get_json(d, "/ui/api/training-jobs/" + b_job, ca, expect=404)
    get_json(d, "/ui/api/training-jobs/%s/log" % b_job, ca, expect=404)
    assert get_json(d, "/ui/api/training-jobs/" + b_job, cb)["tuning_job"] == "jobb"
    st, _, js = post_json(d, "/ui/api/tuning-jobs/jobb/stop", cookie=ca, csrf=sa["csrf"])
    assert st == 404, js

    # The stop needs the session's CSRF token.
    st, _, js = post_json(d, "/ui/api/tuning-jobs/joba/stop", cookie=ca)
    assert st == 403, js
    st, _, js = post_json(d, "/ui/api/tuning-jobs/joba/stop", cookie=ca, csrf=sb["csrf"])
    assert st == 403, js
    st, _, js = post_json(d, "/ui/api/tuning-jobs/joba/stop", csrf=sa["csrf"])
    assert st == 401, js
    assert ui_tuning(d, "joba", ca)["status"] == "InProgress"
    st, _, js = post_json(d, "/ui/api/tuning-jobs/joba/stop", cookie=ca, csrf=sa["csrf"])
    assert (st, js) == (200, {"status": "Stopping"}), (st, js)
    wait_for(lambda: ui_tuning(d, "joba", ca)["status"] == "Stopped", what="joba Stopped")
