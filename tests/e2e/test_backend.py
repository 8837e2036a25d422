"""End-to-end: the local backend's guarantees (backend.h), through hpod.

Exec failures are reported at launch, not as lost jobs; nothing a job
started outlives it; a SIGSTOPped hpo-runner does not block a stop; a full
disk is told apart from a lost runner; the runner packs the model."""
import json
import os
import signal
import subprocess
import sys
import tarfile
import time

import pytest

from conftest import ACCOUNT, HPOD, TRAINER, Hpod, job_request


def current(d, op, body):
    """A current-API (X-Amz-Target) call to an hpod without credentials."""
    st, _, raw = d.raw("/", json.dumps(body).encode(), headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "SageMaker." + op})
    js = json.loads(raw) if raw else None
    assert st == 200, (op, st, js)
    return js


def training_request(name, out, image="trainer:latest", hp=None):
    return {
        "TrainingJobName": name,
        "HyperParameters": hp if hp is not None else {"x": "2.5", "n": "7", "kind": "b"},
        "AlgorithmSpecification": {
            "TrainingImage": image, "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "accuracy", "Regex": "accuracy=([-+0-9.eE]+)"}]},
        "RoleArn": "arn:aws:iam::%s:role/openhpo" % ACCOUNT,
        "OutputDataConfig": {"S3OutputPath": "file://" + out},
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                           "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }


def wait_training(d, name, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        t = current(d, "DescribeTrainingJob", {"TrainingJobName": name})
        if t["TrainingJobStatus"] not in ("InProgress", "Stopping"):
            return t
        time.sleep(0.1)
    raise AssertionError("%s still %s; log: %s" % (name, t["TrainingJobStatus"], d.read_log()))


def reason_of(d, name):
    return current(d, "DescribeTrainingJob", {"TrainingJobName": name}).get("FailureReason", "")


def with_images(tmp_path, images):
    """An hpod whose image catalog also has `images` (written before start)."""
    cat = {"trainer:latest": [sys.executable, TRAINER]}
    cat.update(images)
    (tmp_path / "images.json").write_text(json.dumps(cat))


def script(tmp_path, name, body, mode=0o755):
    p = tmp_path / name
    p.write_text("#!/bin/sh\n" + body)
    p.chmod(mode)
    return str(p)


def running(pid):
    """True when pid is a live (not zombie) process."""
    try:
        stat = open("/proc/%d/stat" % pid).read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def session_of(pid):
    """Session id of pid (/proc/PID/stat field 6), or None."""
    try:
        stat = open("/proc/%d/stat" % pid).read()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2:].split()[3])


def wait_pidfile(path, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path):
            s = open(path).read().split()
            if s:
                return int(s[0])
        time.sleep(0.05)
    raise AssertionError("no pid in %s" % path)


def cleanup(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


# ---- exec failures are reported at launch ----

def test_program_exec_failure_fails_at_launch_not_as_an_exit(tmp_path):
    notexec = script(tmp_path, "notexec.sh", "echo accuracy=1\n", mode=0o644)
    with_images(tmp_path, {"bad:latest": notexec})
    d = Hpod(str(tmp_path)).start()
    try:
        current(d, "CreateTrainingJob",
                training_request("bad1", str(tmp_path / "out"), image="bad:latest"))
        t0 = time.time()
        t = wait_training(d, "bad1", timeout=30)
        assert time.time() - t0 < 10
        assert t["TrainingJobStatus"] == "Failed", t
        reason = t["FailureReason"]
        assert "cannot execute %s: Permission denied" % notexec in reason, reason
        assert "exited with code" not in reason, reason  # not the program's exit 127
        # It never reached Training: the launch itself failed.
        statuses = [s["Status"] for s in t["SecondaryStatusTransitions"]]
        assert "Training" not in statuses, statuses
        # The 2017 API: the training job of a tuning job fails without retries.
        d.ok("CreateTuningJob", job_request(name="tbad", max_jobs=1, parallel=1,
                                            image="bad:latest"))
        d.wait_status("tbad", ["Failed", "Completed"], timeout=30)
        [j] = d.training_jobs("tbad")
        assert j["TrainingJobStatus"] == "Failed" and j["RetriedAttempt"] == 0, j
        assert "cannot execute" in reason_of(d, j["TrainingJobName"]), j
    finally:
        d.stop()


def test_runner_exec_failure_fails_at_launch_not_as_lost(tmp_path):
    # Executable, but not a program the kernel can run: execve fails (ENOEXEC).
    runner = tmp_path / "hpo-runner"
    runner.write_bytes(b"\x7fELF-not-really")
    runner.chmod(0o755)
    d = Hpod(str(tmp_path), ["--runner", str(runner)]).start()
    try:
        d.ok("CreateTuningJob", job_request(max_jobs=1, parallel=1))
        d.wait_status("job1", ["Failed", "Completed"], timeout=30)
        [j] = d.training_jobs("job1")
        assert j["TrainingJobStatus"] == "Failed", j
        assert j["RetriedAttempt"] == 0, j
        reason = reason_of(d, j["TrainingJobName"])
        assert "cannot execute %s: Exec format error" % runner in reason, reason
        assert "lost" not in reason, reason
    finally:
        d.stop()


def killing_runner(tmp_path, times):
    """An hpo-runner that is killed -9 before its start-up report the first
    `times` times it runs (as an OOM kill or an admin could), then is the
    real one."""
    real = os.path.join(os.path.dirname(os.path.abspath(HPOD)), "hpo-runner")
    count = tmp_path / "runner-starts"
    runner = tmp_path / "hpo-runner"
    runner.write_text("#!/bin/sh\necho x >> %s\n"
                      "[ $(wc -l < %s) -le %d ] && kill -9 $$\n"
                      "exec %s \"$@\"\n" % (count, count, times, real))
    runner.chmod(0o755)
    return runner, count


def test_runner_killed_while_starting_is_launched_again(tmp_path):
    runner, count = killing_runner(tmp_path, 1)
    d = Hpod(str(tmp_path), ["--runner", str(runner)]).start()
    try:
        d.ok("CreateTuningJob", job_request(max_jobs=1, parallel=1))
        st = d.wait_status("job1", ["Failed", "Completed"], timeout=60)
        [j] = d.training_jobs("job1")
        assert j["TrainingJobStatus"] == "Completed", (j, reason_of(d, j["TrainingJobName"]))
        assert j["RetriedAttempt"] == 1, j
        assert st["TuningJobStatus"] == "Completed", st
        assert len(open(count).read().split()) == 2
        assert "could not start for the platform's sake" in d.read_log(access=False)
    finally:
        d.stop()


def test_runner_killed_at_every_start_fails_once_retries_are_spent(tmp_path):
    runner, count = killing_runner(tmp_path, 100)
    d = Hpod(str(tmp_path), ["--runner", str(runner)]).start()
    try:
        d.ok("CreateTuningJob", job_request(max_jobs=1, parallel=1))
        d.wait_status("job1", ["Failed", "Completed"], timeout=60)
        [j] = d.training_jobs("job1")
        assert j["TrainingJobStatus"] == "Failed" and j["RetriedAttempt"] == 2, j
        reason = reason_of(d, j["TrainingJobName"])
        assert reason.startswith("InternalServerError: ") and "killed while starting" in reason \
            and "(3 attempts)" in reason, reason
        assert len(open(count).read().split()) == 3
    finally:
        d.stop()


# ---- nothing of a job outlives it ----

def test_setsid_grandchildren_are_killed_when_the_job_ends(tmp_path):
    pids = tmp_path / "pids"
    prog = script(tmp_path, "leaky.sh",
                  # a setsid child, and a double-forked setsid daemon whose
                  # parent exits at once (it reparents to the runner)
                  "setsid sleep 301 &\necho $! >> %s\n"
                  "sh -c 'setsid sh -c \"echo \\$\\$ >> %s; exec sleep 302\" &'\n"
                  "sleep 0.3\necho accuracy=1\n" % (pids, pids))
    d = Hpod(str(tmp_path)).start()
    found = []
    try:
        current(d, "CreateTrainingJob", training_request("leaky", str(tmp_path / "out"),
                                                         image=prog))
        t = wait_training(d, "leaky")
        assert t["TrainingJobStatus"] == "Completed", t
        found = [int(x) for x in open(pids).read().split()]
        assert len(found) == 2
        deadline = time.time() + 5
        while time.time() < deadline and any(running(p) for p in found):
            time.sleep(0.05)
        assert [p for p in found if running(p)] == [], "left running after the job ended"
        assert d.runner_pids() == []
    finally:
        for p in found:
            cleanup(p)
        d.stop()


# ---- a stopped runner does not block a stop ----

def test_sigstopped_runner_does_not_block_stop(tmp_path):
    d = Hpod(str(tmp_path), ["--grace", "1"]).start()
    stopped = []
    try:
        d.ok("CreateTuningJob", job_request(max_jobs=4, parallel=2, static={"mode": "sleep"}))
        current(d, "CreateTrainingJob", training_request(
            "solo", str(tmp_path / "out"), hp={"mode": "sleep"}))
        deadline = time.time() + 30
        while time.time() < deadline and len(d.runner_pids()) < 3:
            time.sleep(0.05)
        time.sleep(0.5)  # the programs are running
        stopped = d.runner_pids()
        assert len(stopped) == 3
        for pid in stopped:
            os.kill(pid, signal.SIGSTOP)
        t0 = time.time()
        d.ok("StopTuningJob", {"AwsAccountId": ACCOUNT, "TuningJobName": "job1"})
        current(d, "StopTrainingJob", {"TrainingJobName": "solo"})
        st = d.wait_status("job1", ["Stopped", "Completed", "Failed"], timeout=30)
        t = wait_training(d, "solo", timeout=30)
        took = time.time() - t0
        # grace (1 s) + the backend's margin (2 s) + a tick or two
        assert took < 6, took
        assert st["TuningJobStatus"] == "Stopped", st
        jobs = d.training_jobs("job1")
        assert len(jobs) == 2 and all(j["TrainingJobStatus"] == "Stopped" for j in jobs), jobs
        assert t["TrainingJobStatus"] == "Stopped", t
        assert [p for p in stopped if running(p)] == []
        assert d.runner_pids() == []
    finally:
        for pid in stopped:
            if running(pid):
                os.kill(pid, signal.SIGCONT)
        d.stop()


# ---- lost runners are still relaunched ----

def cgroup2_writable():
    for line in open("/proc/self/mountinfo"):
        if " - cgroup2 " in line:
            return os.access(line.split()[4], os.W_OK)
    return False


def test_kill_9_of_a_runner_relaunches_and_kills_what_the_job_started(tmp_path):
    pids = tmp_path / "pids"
    marker = tmp_path / "ran-once"
    prog = script(tmp_path, "slow.sh",
                  "if [ ! -e %s ]; then touch %s\n"
                  "  setsid sleep 303 &\n  echo $! >> %s\n  sleep 600\nfi\n"
                  "echo accuracy=1\n" % (marker, marker, pids))
    d = Hpod(str(tmp_path)).start()
    leftover = None
    try:
        d.ok("CreateTuningJob", job_request(max_jobs=1, parallel=1, image=prog))
        leftover = wait_pidfile(str(pids))
        # Kill the runner only once the grandchild has left the job's session
        # (setsid done, sleep exec'ed): until then the job's group takes it.
        deadline = time.time() + 10
        while time.time() < deadline and not (
                session_of(leftover) == leftover and
                open("/proc/%d/comm" % leftover).read().strip() == "sleep"):
            time.sleep(0.02)
        assert session_of(leftover) == leftover
        [runner] = d.runner_pids()
        os.kill(runner, signal.SIGKILL)
        st = d.wait_status("job1", ["Completed", "Failed"], timeout=60)
        assert st["TuningJobStatus"] == "Completed", st
        [j] = d.training_jobs("job1")
        assert j["TrainingJobStatus"] == "Completed" and j["RetriedAttempt"] == 1, j
        if cgroup2_writable():
            # The setsid grandchild escaped the runner's session; the job's
            # cgroup did not let it go.
            assert not running(leftover), "the lost job's grandchild was left running"
    finally:
        if leftover:
            cleanup(leftover)
        d.stop()


# ---- a full disk is not a lost runner ----

def test_exit_json_that_cannot_be_written_fails_the_job_without_retries(tmp_path):
    # The program makes exit.json a non-empty directory in its job directory
    # (its cwd): the runner cannot rename its result into place.
    prog = script(tmp_path, "blocker.sh", "mkdir -p exit.json/x\necho accuracy=1\n")
    d = Hpod(str(tmp_path)).start()
    try:
        d.ok("CreateTuningJob", job_request(max_jobs=1, parallel=1, image=prog))
        d.wait_status("job1", ["Completed", "Failed"], timeout=60)
        [j] = d.training_jobs("job1")
        assert j["TrainingJobStatus"] == "Failed" and j["RetriedAttempt"] == 0, j
        assert "result could not be written" in reason_of(d, j["TrainingJobName"]), j
    finally:
        d.stop()


def test_full_disk_during_the_job_does_not_lose_its_result(tmp_path):
    jobs = tmp_path / "data" / "jobs"
    jobs.mkdir(parents=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(jobs)],
                       capture_output=True)
    if r.returncode != 0:
        pytest.skip("needs to mount a small tmpfs (root): %s" % r.stderr.decode().strip())
    try:
        # Prints its objective, then fills the job directory's filesystem.
        prog = script(tmp_path, "filler.sh",
                      "echo accuracy=1\n"
                      "dd if=/dev/zero of=fill bs=64k 2>/dev/null || true\n"
                      "df -k . >&2\n")
        d = Hpod(str(tmp_path)).start()
        try:
            d.ok("CreateTuningJob", job_request(max_jobs=1, parallel=1, image=prog))
            st = d.wait_status("job1", ["Completed", "Failed"], timeout=60)
            [j] = d.training_jobs("job1")
            assert j["RetriedAttempt"] == 0, j
            assert j["TrainingJobStatus"] == "Completed", j
            assert st["TuningJobStatus"] == "Completed", st
        finally:
            d.stop()
    finally:
        subprocess.run(["umount", "-l", str(jobs)])


# ---- the runner packs the model ----

def test_runner_packs_the_model_before_it_reports(tmp_path):
    out = str(tmp_path / "out")
    d = Hpod(str(tmp_path)).start()
    try:
        current(d, "CreateTrainingJob", training_request("packed", out))
        t = wait_training(d, "packed")
        assert t["TrainingJobStatus"] == "Completed", t
        uri = t["ModelArtifacts"]["S3ModelArtifacts"]
        assert uri == "file://%s/packed/output/model.tar.gz" % out
        with tarfile.open(uri[len("file://"):]) as tf:
            assert "model.txt" in tf.getnames()
            body = tf.extractfile("model.txt").read().decode()
        assert body.startswith("x=2.5 n=7 kind=b")
        # It was the runner (off the daemon's loop) that packed it.
        [exit_json] = [os.path.join(r, f) for r, _, fs in os.walk(d.data) for f in fs
                       if f == "exit.json"]
        assert json.load(open(exit_json))["model_uri"] == uri
    finally:
        d.stop()
