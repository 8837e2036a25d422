"""End-to-end: the daemon process itself — how it stops, and what it refuses.

SIGTERM and SIGINT must shut hpod down cleanly (exit 0, its "shutting down"
and "stopped" log lines) whatever thread the kernel hands the signal to: an
idle hpod has a BLAS thread (started before main) besides the loop's, and a
busy one has training jobs, HTTP clients and more. A second hpod on a data dir
in use must say so in one line and exit 2 before it binds a port or touches
a job.
"""
import os
import signal
import subprocess
import threading
import time
import urllib.request

import pytest

from conftest import ACCOUNT, HPOD, Hpod, job_request

SHUTDOWN_LINE = "shutting down (training jobs keep running)"
STOPPED_LINE = "hpod info: stopped"


def assert_clean_exit(d, rc, sig, runs=1):
    """hpod `d` exited 0 after `sig`, saying so, for the runs-th time."""
    log = open(os.path.join(d.tmp, "hpod.log"), errors="replace").read()
    assert rc == 0, "hpod exited with %s after signal %d; log:\n%s" % (rc, sig, log[-5000:])
    assert log.count("signal %d: %s" % (sig, SHUTDOWN_LINE)) == runs, log[-5000:]
    assert log.count(STOPPED_LINE) == runs, log[-5000:]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_signal_stops_an_idle_daemon_cleanly(tmp_path, sig):
    # Racy before the fix (the signal could land on OpenBLAS's thread and
    # take its default action), so try it many times.
    for i in range(20 if sig == signal.SIGTERM else 5):
        run = tmp_path / ("run%d" % i)
        run.mkdir()
        d = Hpod(str(run)).start()
        with urllib.request.urlopen(d.url + "/health", timeout=5) as r:
            assert r.status == 200
        assert_clean_exit(d, d.stop(sig), sig)


def test_sigterm_stops_a_busy_daemon_cleanly(tmp_path):
    d = Hpod(str(tmp_path)).start()
    job = job_request(name="busy", max_jobs=6, parallel=3,
                      static={"mode": "sleep", "sleep": "30"})
    d.ok("CreateTuningJob", job)
    deadline = time.time() + 30
    while len(d.training_jobs("busy")) < 3:
        assert time.time() < deadline, d.read_log()
        time.sleep(0.05)
    stop = threading.Event()
    errors = []

    def hammer():
        while not stop.is_set():
            try:
                d.describe("busy")
                d.training_jobs("busy")
            except Exception as e:  # the daemon going away ends the loop
                errors.append(e)
                return

    clients = [threading.Thread(target=hammer) for _ in range(3)]
    for t in clients:
        t.start()
    time.sleep(0.3)
    try:
        rc = d.stop(signal.SIGTERM)
    finally:
        stop.set()
        for t in clients:
            t.join(timeout=30)
    assert_clean_exit(d, rc, signal.SIGTERM)
    # the next start re-adopts the training jobs; stop them so nothing lingers
    d.start()
    d.ok("StopTuningJob", {"AwsAccountId": ACCOUNT, "TuningJobName": "busy"})
    d.wait_status("busy", ["Stopped"], timeout=60)
    assert_clean_exit(d, d.stop(signal.SIGTERM), signal.SIGTERM, runs=2)


def test_second_daemon_on_the_same_data_dir_exits_2(tmp_path):
    first = Hpod(str(tmp_path)).start()
    first.ok("CreateTuningJob", job_request(name="held", max_jobs=2, parallel=2,
                                            static={"mode": "sleep", "sleep": "30"}))
    deadline = time.time() + 30
    while len(first.training_jobs("held")) < 2:
        assert time.time() < deadline, first.read_log()
        time.sleep(0.05)
    before = first.training_jobs("held")
    jobs_dir = os.path.join(first.data, "jobs")
    listing = sorted(os.listdir(jobs_dir))
    port_file = str(tmp_path / "second.port")
    second = subprocess.Popen(
        [HPOD, "--listen", "127.0.0.1:0", "--data-dir", first.data, "--port-file", port_file,
         "--images", first.images],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = second.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        second.send_signal(signal.SIGTERM)
        out, err = second.communicate(timeout=30)
        pytest.fail("a second hpod on a data dir in use is still running after 10 s:\n" + err)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert second.returncode == 2, (second.returncode, err)
    assert len(lines) == 1, err
    assert first.data in lines[0] and lines[0].startswith("hpod: "), lines
    assert out == ""
    assert not os.path.exists(port_file), "the second hpod got as far as binding its port"
    # the first daemon and its jobs are untouched
    assert sorted(os.listdir(jobs_dir)) == listing
    after = first.training_jobs("held")
    assert [(t["TrainingJobName"], t["TrainingJobStatus"]) for t in after] == \
        [(t["TrainingJobName"], t["TrainingJobStatus"]) for t in before]
    assert first.describe("held")["TuningJobStatus"] == "Running"
    first.ok("StopTuningJob", {"AwsAccountId": ACCOUNT, "TuningJobName": "held"})
    first.wait_status("held", ["Stopped"], timeout=60)
    assert_clean_exit(first, first.stop(signal.SIGTERM), signal.SIGTERM)
