"""End-to-end: the Docker backend against a real dockerd (docker_env.py).

A tuning job of the tiny busybox image (tests/images) completes with its
metrics scraped from the container's log; /opt/ml/model lands in
model.tar.gz; MaxRuntimeInSeconds, StopTuningJob and StopTrainingJob end the
container; kill -9 of hpod and a restart loses no job and leaves no
container; InstanceCount 2 gives two hosts that resolve each other; a GPU
type without GPUs fails saying so; without Docker, Create says why."""
import json
import os
import signal
import tarfile
import time

import pytest

from conftest import ACCOUNT, Hpod, job_request
from docker_env import IMAGE, docker_engine  # noqa: F401 (the fixture)

RANGES = {"ContinuousParameterRanges": [
    {"Name": "x", "MinValue": "0", "MaxValue": "6", "Type": "Continuous"}]}


def current(d, op, body, ok=True):
    st, _, raw = d.raw("/", json.dumps(body).encode(), headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "SageMaker." + op})
    js = json.loads(raw) if raw else None
    if ok:
        assert st == 200, (op, st, js)
        return js
    return st, js


@pytest.fixture
def dhpod(tmp_path, docker_engine):
    d = Hpod(str(tmp_path), ["--docker-socket", docker_engine.sock, "--grace", "2"]).start()
    d.engine = docker_engine
    yield d
    d.cleanup()
    for c in docker_engine.containers(d.data):
        docker_engine.api("DELETE", "/containers/%s?force=1" % c["Id"])


def docker_request(name="job1", max_jobs=4, parallel=2, static=None, count=1,
                   itype="ml.m4.xlarge", max_runtime=600):
    req = job_request(name=name, max_jobs=max_jobs, parallel=parallel, image=IMAGE,
                      static=static if static is not None else {"mode": "normal"},
                      ranges=RANGES, max_runtime=max_runtime)
    rc = req["TrainingJobDefinition"]["ResourceConfig"]
    rc["InstanceCount"] = count
    rc["InstanceType"] = itype
    return req


def output_dir(req):
    return req["TrainingJobDefinition"]["OutputDataConfig"]["S3OutputPath"][len("file://"):]


def wait_no_containers(d, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        left = d.engine.containers(d.data)
        if not left:
            return
        time.sleep(0.1)
    raise AssertionError("containers left: %s" % [(c["Names"], c["State"]) for c in left])


def wait_containers(d, n, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        running = [c for c in d.engine.containers(d.data) if c["State"] == "running"]
        if len(running) >= n:
            return running
        time.sleep(0.05)
    raise AssertionError("fewer than %d containers running; log: %s" % (n, d.read_log()))


def test_docker_tuning_job_completes_with_metrics_and_model(dhpod):
    req = docker_request(max_jobs=4, parallel=2)
    dhpod.ok("CreateTuningJob", req)
    d = dhpod.wait_status("job1", ["Completed", "Failed"], timeout=120)
    assert d["TuningJobStatus"] == "Completed", d
    jobs = dhpod.training_jobs("job1")
    assert len(jobs) == 4
    assert all(j["TrainingJobStatus"] == "Completed" for j in jobs), jobs
    # The objective is the container's own last accuracy line: -((x-3)^2 + 1/3).
    best, best_v = None, None
    for j in jobs:
        x = float(j["HyperParameters"]["x"])
        want = -((x - 3) ** 2 + 1.0 / 3)
        got = j["FinalTuningJobObjectiveMetric"]["Value"]
        assert abs(got - want) < 1e-4, (j, want)
        if best_v is None or got > best_v:
            best, best_v = j["TrainingJobName"], got
    assert d["BestTrainingJob"]["TrainingJobName"] == best
    # /opt/ml/model/x of each job is in its model.tar.gz.
    for j in jobs:
        tgz = os.path.join(output_dir(req), j["TrainingJobName"], "output", "model.tar.gz")
        with tarfile.open(tgz) as t:
            names = [n.lstrip("./") for n in t.getnames()]
            assert "x" in names, names
            body = t.extractfile([m for m in t.getmembers()
                                  if m.name.lstrip("./") == "x"][0]).read().decode()
        assert body.startswith("x=%s host=algo-1" % j["HyperParameters"]["x"]), body
    # The log came from the container (TRAINING_JOB_NAME and SM_CURRENT_HOST set).
    st, _, raw = dhpod.raw("/GetTrainingJobLogs", json.dumps(
        {"AwsAccountId": ACCOUNT, "TrainingJobName": jobs[0]["TrainingJobName"]}).encode())
    if st == 200:
        assert b"SM_CURRENT_HOST=algo-1" in raw
    wait_no_containers(dhpod)


def test_docker_max_runtime_stops_the_container(dhpod):
    req = docker_request(max_jobs=1, parallel=1, static={"mode": "sleep", "sleep": "120"},
                         max_runtime=2)
    dhpod.ok("CreateTuningJob", req)
    t0 = time.time()
    wait_containers(dhpod, 1)
    dhpod.wait_status("job1", ["Completed", "Failed", "Stopped"], timeout=60)
    assert time.time() - t0 < 30
    jobs = dhpod.training_jobs("job1")
    assert jobs[0]["TrainingJobStatus"] == "Stopped"
    t = current(dhpod, "DescribeTrainingJob", {"TrainingJobName": jobs[0]["TrainingJobName"]})
    assert t["SecondaryStatus"] == "MaxRuntimeExceeded", t
    wait_no_containers(dhpod)


def test_docker_stop_tuning_job_and_stop_training_job_kill_containers(dhpod):
    req = docker_request(max_jobs=4, parallel=2, static={"mode": "sleep", "sleep": "120"})
    dhpod.ok("CreateTuningJob", req)
    wait_containers(dhpod, 2)
    t0 = time.time()
    dhpod.ok("StopTuningJob", {"AwsAccountId": ACCOUNT, "TuningJobName": "job1"})
    dhpod.wait_status("job1", ["Stopped"], timeout=60)
    assert time.time() - t0 < 30
    jobs = dhpod.training_jobs("job1")
    assert len(jobs) == 2 and all(j["TrainingJobStatus"] == "Stopped" for j in jobs), jobs
    wait_no_containers(dhpod)
    # A training job of its own, stopped by StopTrainingJob.
    tj = {
        "TrainingJobName": "solo1",
        "HyperParameters": {"mode": "sleep", "sleep": "120"},
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        "RoleArn": "arn:aws:iam::%s:role/openhpo" % ACCOUNT,
        "OutputDataConfig": {"S3OutputPath": "file://" + output_dir(req)},
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                           "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }
    current(dhpod, "CreateTrainingJob", tj)
    wait_containers(dhpod, 1)
    current(dhpod, "StopTrainingJob", {"TrainingJobName": "solo1"})
    deadline = time.time() + 30
    while time.time() < deadline:
        t = current(dhpod, "DescribeTrainingJob", {"TrainingJobName": "solo1"})
        if t["TrainingJobStatus"] not in ("InProgress", "Stopping"):
            break
        time.sleep(0.1)
    assert t["TrainingJobStatus"] == "Stopped", t
    wait_no_containers(dhpod)


def test_docker_kill_9_and_restart_loses_nothing(dhpod):
    req = docker_request(max_jobs=4, parallel=2, static={"mode": "normal", "sleep": "1",
                                                         "epochs": "4"})
    dhpod.ok("CreateTuningJob", req)
    wait_containers(dhpod, 2)
    dhpod.stop(sig=signal.SIGKILL)
    time.sleep(1)
    dhpod.start()
    d = dhpod.wait_status("job1", ["Completed", "Failed"], timeout=120)
    assert d["TuningJobStatus"] == "Completed", (d, dhpod.read_log())
    jobs = dhpod.training_jobs("job1")
    assert len(jobs) == 4, jobs
    assert all(j["TrainingJobStatus"] == "Completed" for j in jobs), jobs
    # Every job's objective is its own last epoch's (the re-read log did not
    # double or lose lines).
    for j in jobs:
        x = float(j["HyperParameters"]["x"])
        assert abs(j["FinalTuningJobObjectiveMetric"]["Value"] + (x - 3) ** 2 + 0.25) < 1e-4
    wait_no_containers(dhpod)
    assert not dhpod.engine.networks(dhpod.data)


def test_docker_stray_container_is_removed_at_start(dhpod):
    req = docker_request(max_jobs=1, parallel=1, static={"mode": "sleep", "sleep": "120"})
    dhpod.ok("CreateTuningJob", req)
    (c,) = wait_containers(dhpod, 1)
    dhpod.stop(sig=signal.SIGKILL)
    # The job's directory goes (as when its tuning job is deleted): its
    # container is a stray of this data dir.
    jd = c["Labels"]["openhpo.job_dir"]
    os.rename(jd, jd + ".gone")
    # Another daemon's container (another data dir) is not touched.
    other = dhpod.engine.api("POST", "/containers/create", {
        "Image": IMAGE, "Cmd": ["sleep", "60"],
        "Labels": {"openhpo": "1", "openhpo.data_dir": "/elsewhere",
                   "openhpo.job_dir": "/elsewhere/jobs/x"}})[1]["Id"]
    try:
        dhpod.start()
        deadline = time.time() + 20
        while time.time() < deadline and any(
                x["Id"] == c["Id"] for x in dhpod.engine.containers(dhpod.data)):
            time.sleep(0.1)
        assert not any(x["Id"] == c["Id"] for x in dhpod.engine.containers(dhpod.data))
        assert any(x["Id"] == other for x in dhpod.engine.containers("/elsewhere"))
    finally:
        dhpod.engine.api("DELETE", "/containers/%s?force=1" % other)


def test_docker_two_hosts_resolve_each_other(dhpod):
    req = docker_request(max_jobs=1, parallel=1, static={"mode": "hosts"}, count=2)
    dhpod.ok("CreateTuningJob", req)

    def logs():
        out = []
        for root, _, files in os.walk(os.path.join(dhpod.data, "jobs")):
            out += [open(os.path.join(root, f)).read() for f in files if f == "output.log"]
        return "\n".join(out)
    try:
        d = dhpod.wait_status("job1", ["Completed", "Failed"], timeout=120)
    except AssertionError:
        raise AssertionError("containers %s; logs:\n%s" % (
            [(c["Names"], c["State"], c["Status"]) for c in dhpod.engine.containers(dhpod.data)],
            logs()))
    assert d["TuningJobStatus"] == "Completed", (d, logs())
    (j,) = dhpod.training_jobs("job1")
    text = logs()
    assert "resolved algo-2" in text and "resolved algo-1" in text, text
    assert '"current_host": "algo-2"' in text and '"hosts": [' in text, text
    assert 'SM_HOSTS=["algo-1","algo-2"]' in text, text
    tgz = os.path.join(output_dir(req), j["TrainingJobName"], "output", "model.tar.gz")
    with tarfile.open(tgz) as t:
        names = sorted(n.lstrip("./") for n in t.getnames())
    # Merged from both hosts; algo-1's x wins the clash.
    assert "host-algo-1" in names and "host-algo-2" in names and "x" in names, names
    wait_no_containers(dhpod)
    assert not dhpod.engine.networks(dhpod.data)


def test_docker_training_job_on_two_hosts(dhpod):
    """CreateTrainingJob (current API) with InstanceCount 2 runs two hosts."""
    from test_current_api import training_request
    body = training_request("solo2", hp={"mode": "hosts", "x": "1"})
    body["AlgorithmSpecification"]["TrainingImage"] = IMAGE
    body["ResourceConfig"]["InstanceCount"] = 2
    current(dhpod, "CreateTrainingJob", body)
    deadline = time.time() + 120
    while time.time() < deadline:
        j = current(dhpod, "DescribeTrainingJob", {"TrainingJobName": "solo2"})
        if j["TrainingJobStatus"] not in ("InProgress", "Stopping"):
            break
        time.sleep(0.2)
    assert j["TrainingJobStatus"] == "Completed", (j, dhpod.read_log())
    assert j["ResourceConfig"]["InstanceCount"] == 2
    logs = []
    for root, _, files in os.walk(os.path.join(dhpod.data, "jobs")):
        logs += [open(os.path.join(root, f)).read() for f in files if f == "output.log"]
    assert 'SM_HOSTS=["algo-1","algo-2"]' in "\n".join(logs)
    wait_no_containers(dhpod)


def test_docker_two_hosts_as_the_jobs_user(tmp_path, docker_engine):
    """With --run-as, every host's container runs as that user and can write
    its own /opt/ml (host 2's directories are the user's too)."""
    import pwd
    import shutil
    import subprocess
    import tempfile
    user = "hpo-test-a"
    try:
        pwd.getpwnam(user)
        made = False
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", user], check=True)
        made = True
    pw = pwd.getpwnam(user)
    base = tempfile.mkdtemp(prefix="openhpo-docker-runas-", dir="/tmp")
    d = None
    try:
        os.chmod(base, 0o711)
        out = os.path.join(base, "out")
        os.makedirs(out)
        os.chown(out, pw.pw_uid, pw.pw_gid)
        # Not under pytest's tmp_path (0700 root): the user must reach its job dirs.
        d = Hpod(base, ["--docker-socket", docker_engine.sock, "--grace", "2",
                        "--run-as", user]).start()
        d.engine = docker_engine
        req = docker_request(max_jobs=1, parallel=1, static={"mode": "hosts"},
                             count=2)
        req["TrainingJobDefinition"]["OutputDataConfig"]["S3OutputPath"] = "file://" + out
        d.ok("CreateTuningJob", req)
        desc = d.wait_status("job1", ["Completed", "Failed"], timeout=120)
        (j,) = d.training_jobs("job1")
        logs = []
        for root, _, files in os.walk(os.path.join(d.data, "jobs")):
            logs += [open(os.path.join(root, f)).read() for f in files if f == "output.log"]
        tj = current(d, "DescribeTrainingJob", {"TrainingJobName": j["TrainingJobName"]})
        assert desc["TuningJobStatus"] == "Completed", (tj.get("FailureReason"), "\n".join(logs))
        tgz = os.path.join(out, j["TrainingJobName"], "output", "model.tar.gz")
        assert os.stat(tgz).st_uid == pw.pw_uid
        with tarfile.open(tgz) as t:
            names = sorted(n.lstrip("./") for n in t.getnames())
        assert "host-algo-1" in names and "host-algo-2" in names, names
    finally:
        if d:
            d.cleanup()
            for c in docker_engine.containers(d.data):
                docker_engine.api("DELETE", "/containers/%s?force=1" % c["Id"])
        if not os.environ.get("KEEP"):
            shutil.rmtree(base, ignore_errors=True)
        if made:
            subprocess.run(["userdel", user], check=False)


def test_docker_host_failure_fails_the_job(dhpod):
    req = docker_request(max_jobs=1, parallel=1, static={"mode": "fail"}, count=1)
    dhpod.ok("CreateTuningJob", req)
    dhpod.wait_status("job1", ["Completed", "Failed"], timeout=60)
    (j,) = dhpod.training_jobs("job1")
    assert j["TrainingJobStatus"] == "Failed"
    t = current(dhpod, "DescribeTrainingJob", {"TrainingJobName": j["TrainingJobName"]})
    assert t["FailureReason"].startswith("ValueError: bad hyperparameter"), t
    wait_no_containers(dhpod)


def test_docker_vanished_container_is_relaunched(dhpod):
    """A container removed behind openhpo's back is the platform's failure,
    not the job's: the training job is relaunched (a retry spent) and
    completes."""
    req = docker_request(max_jobs=1, parallel=1, static={"mode": "normal", "sleep": "1",
                                                         "epochs": "3"})
    dhpod.ok("CreateTuningJob", req)
    (c,) = wait_containers(dhpod, 1)
    dhpod.engine.api("DELETE", "/containers/%s?force=1" % c["Id"])
    d = dhpod.wait_status("job1", ["Completed", "Failed"], timeout=90)
    assert d["TuningJobStatus"] == "Completed", (d, dhpod.read_log())
    (j,) = dhpod.training_jobs("job1")
    assert j["TrainingJobStatus"] == "Completed", j
    log = open(os.path.join(dhpod.tmp, "hpod.log"), errors="replace").read()
    assert "failed for the platform's sake; relaunching it (attempt 2 of 3)" in log, log[-5000:]
    wait_no_containers(dhpod)


def test_docker_gpu_type_without_gpus_fails_with_the_reason(dhpod):
    req = docker_request(max_jobs=1, parallel=1, itype="ml.p3.2xlarge")
    dhpod.ok("CreateTuningJob", req)
    dhpod.wait_status("job1", ["Completed", "Failed"], timeout=60)
    (j,) = dhpod.training_jobs("job1")
    assert j["TrainingJobStatus"] == "Failed"
    t = current(dhpod, "DescribeTrainingJob", {"TrainingJobName": j["TrainingJobName"]})
    assert "GPU" in t["FailureReason"] and "nvidia" in t["FailureReason"], t
    assert not dhpod.engine.containers(dhpod.data)


def test_docker_unavailable_refuses_create_with_the_reason(tmp_path):
    d = Hpod(str(tmp_path), ["--docker-socket", str(tmp_path / "no-such.sock")]).start()
    try:
        assert "backend docker is not available" in d.read_log()
        st, js, _ = d.call("CreateTuningJob", docker_request())
        assert st == 400 and js["__type"] == "ValidationError", js
        msg = js.get("Message") or js.get("message")
        assert "Docker" in msg and "not configured or not reachable" in msg, msg
        # A catalog path still runs on the local backend.
        st, js, _ = d.call("CreateTuningJob", job_request(name="local1", max_jobs=1, parallel=1))
        assert st == 200, js
    finally:
        d.stop()


def test_docker_job_that_ended_while_hpod_was_down_is_finished(dhpod):
    req = docker_request(max_jobs=1, parallel=1, static={"mode": "normal", "sleep": "1",
                                                         "epochs": "2"})
    dhpod.ok("CreateTuningJob", req)
    (c,) = wait_containers(dhpod, 1)
    dhpod.stop(sig=signal.SIGKILL)
    deadline = time.time() + 30
    while time.time() < deadline:
        st = dhpod.engine.api("GET", "/containers/%s/json" % c["Id"])[1]["State"]["Status"]
        if st == "exited":
            break
        time.sleep(0.1)
    assert st == "exited"
    dhpod.start()
    d = dhpod.wait_status("job1", ["Completed", "Failed"], timeout=60)
    assert d["TuningJobStatus"] == "Completed", (d, dhpod.read_log())
    (j,) = dhpod.training_jobs("job1")
    x = float(j["HyperParameters"]["x"])
    assert abs(j["FinalTuningJobObjectiveMetric"]["Value"] + (x - 3) ** 2 + 0.5) < 1e-4
    tgz = os.path.join(output_dir(req), j["TrainingJobName"], "output", "model.tar.gz")
    assert os.path.exists(tgz)
    wait_no_containers(dhpod)


def test_docker_catalog_entry_and_exec_failure(tmp_path, docker_engine):
    (tmp_path / "images.json").write_text(json.dumps({
        "mine:1": {"backend": "docker", "image": IMAGE},
        "broken:1": {"backend": "docker", "image": IMAGE, "command": ["/no/such/program"]}}))
    d = Hpod(str(tmp_path), ["--docker-socket", docker_engine.sock]).start()
    d.engine = docker_engine
    try:
        req = docker_request(name="ok1", max_jobs=1, parallel=1)
        req["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingImage"] = "mine:1"
        d.ok("CreateTuningJob", req)
        req = docker_request(name="bad1", max_jobs=1, parallel=1)
        req["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingImage"] = "broken:1"
        d.ok("CreateTuningJob", req)
        assert d.wait_status("ok1", ["Completed", "Failed"], timeout=60)[
            "TuningJobStatus"] == "Completed"
        d.wait_status("bad1", ["Completed", "Failed"], timeout=60)
        (j,) = d.training_jobs("bad1")
        assert j["TrainingJobStatus"] == "Failed"
        t = current(d, "DescribeTrainingJob", {"TrainingJobName": j["TrainingJobName"]})
        assert "cannot execute" in t["FailureReason"] and "/no/such/program" in \
            t["FailureReason"], t
        wait_no_containers(d)
    finally:
        d.stop()
        for c in docker_engine.containers(d.data):
            docker_engine.api("DELETE", "/containers/%s?force=1" % c["Id"])
