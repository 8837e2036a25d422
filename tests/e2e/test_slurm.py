"""End-to-end: training jobs through a real Slurm cluster (backends/slurm.c).

A single-node cluster and a 3-node one (slurm_env.py: munged, slurmctld and
slurmd from Debian's slurm-wlm, on loopback, in a temp dir) serve every test
of a module-wide fixture. hpod selects the slurm backend per image (catalog
entry {"backend": "slurm", "command": [...]}) and is configured with
--backend-config; the job directories are under the test's data dir, which
the "nodes" (all on this machine) share.

Shown: a tuning job of 8 training jobs completes with the right best job and
one Slurm job per training job; MaxParallelTrainingJobs holds in Slurm's own
view (squeue sampled); a MaxRuntimeInSeconds timeout and StopTuningJob end
the Slurm jobs; InstanceCount 2 runs on two nodes with per-host
resourceconfig.json / SM_CURRENT_HOST / SM_HOSTS; kill -9 of hpod mid-run and
a restart complete the tuning job with no Slurm job lost or submitted twice;
a training job whose node goes down is retried (RetriedAttempt 1); a restart
before the handle was stored finds the job by its name; jobs Slurm has
forgotten are decided by their files; failures carry their reason (a crash,
a missing program at launch, a cancel outside openhpo)."""
import json
import os
import signal
import sys
import threading
import time

import pytest

from conftest import ACCOUNT, TRAINER, Hpod, job_request
from slurm_env import cluster_or_skip

ACTIVE = ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = cluster_or_skip(tmp_path_factory.mktemp("slurm1"), nodes=1)
    yield c
    c.stop()


@pytest.fixture(scope="module")
def cluster3(tmp_path_factory):
    c = cluster_or_skip(tmp_path_factory.mktemp("slurm3"), nodes=3)
    yield c
    c.stop()


def slurm_hpod(tmp_path, c, images=None, extra=()):
    """An hpod whose trainer image runs through Slurm cluster c."""
    cat = {"trainer:latest": {"backend": "slurm", "command": [sys.executable, TRAINER]}}
    cat.update(images or {})
    (tmp_path / "images.json").write_text(json.dumps(cat))
    conf = c.backend_config(str(tmp_path / "backends.json"))
    return Hpod(str(tmp_path), ["--backend-config", conf, "--grace", "2"] + list(extra))


def slurm_jobs_of(c, prefix):
    return [j for j in c.squeue() if j[1].startswith("hpo-" + prefix)]


def wait_no_active(c, prefix, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        left = [j for j in slurm_jobs_of(c, prefix) if j[2] in ACTIVE]
        if not left:
            return
        time.sleep(0.2)
    raise AssertionError("Slurm jobs still active: %s" % left)


def test_slurm_tuning_job_completes_with_right_best_and_parallel_cap(tmp_path, cluster):
    d = slurm_hpod(tmp_path, cluster).start()
    track = str(tmp_path / "track")
    req = job_request(name="sl8", max_jobs=8, parallel=3,
                      static={"mode": "normal", "sleep": "0.5", "track": track})
    d.ok("CreateTuningJob", req)
    # Slurm's own view of MaxParallelTrainingJobs: sample squeue meanwhile.
    most, samples, stop = [0], [0], threading.Event()

    def sample():
        while not stop.is_set():
            running = [j for j in slurm_jobs_of(cluster, "sl8-") if j[2] in ACTIVE]
            most[0] = max(most[0], len(running))
            samples[0] += 1
            time.sleep(0.1)
    th = threading.Thread(target=sample)
    th.start()
    try:
        st = d.wait_status("sl8", ["Completed", "Failed"], timeout=150)
    finally:
        stop.set()
        th.join()
    assert st["TuningJobStatus"] == "Completed", (st, d.read_log())
    jobs = d.training_jobs("sl8")
    assert len(jobs) == 8
    for j in jobs:
        assert j["TrainingJobStatus"] == "Completed", j
    best = max(jobs, key=lambda j: j["FinalTuningJobObjectiveMetric"]["Value"])
    assert st["BestTrainingJob"]["TrainingJobName"] == best["TrainingJobName"]
    hp = best["HyperParameters"]
    want = -((float(hp["x"]) - 2.5) ** 2) - 0.1 * (int(hp["n"]) - 7) ** 2 + \
        {"a": 0.0, "b": 1.0, "c": 0.5}[hp["kind"]]
    assert abs(best["FinalTuningJobObjectiveMetric"]["Value"] - want) < 1e-4
    # Every training job was exactly one Slurm job, and all of them COMPLETED.
    sj = slurm_jobs_of(cluster, "sl8-")
    assert len(sj) == 8, sj
    assert {j[2] for j in sj} == {"COMPLETED"}, sj
    names = sorted(j[1].rsplit("-", 1)[0][len("hpo-"):] for j in sj)
    assert names == sorted(j["TrainingJobName"] for j in jobs)
    assert samples[0] > 5 and 1 <= most[0] <= 3, (most, samples)
    # The program's own record agrees: never more than 3 at once.
    ev = []
    for line in open(track):
        kind, t, _ = line.split()
        ev.append((float(t), 1 if kind == "start" else -1))
    cur = peak = 0
    for _, k in sorted(ev, key=lambda e: (e[0], e[1])):
        cur += k
        peak = max(peak, cur)
    assert 1 <= peak <= 3
    # The model was packed on the node (the runner runs hpo-pack there).
    out = req["TrainingJobDefinition"]["OutputDataConfig"]["S3OutputPath"][len("file://"):]
    assert os.path.exists(os.path.join(out, best["TrainingJobName"], "output", "model.tar.gz"))


def test_slurm_timeout_and_stop_end_the_slurm_jobs(tmp_path, cluster):
    d = slurm_hpod(tmp_path, cluster).start()
    req = job_request(name="sltime", max_jobs=2, parallel=2, max_runtime=2,
                      static={"mode": "sleep", "sleep": "60"})
    d.ok("CreateTuningJob", req)
    req = job_request(name="slstop", max_jobs=2, parallel=2,
                      static={"mode": "sleep", "sleep": "60"})
    d.ok("CreateTuningJob", req)
    # slstop: wait until its jobs run in Slurm, then stop the tuning job.
    deadline = time.time() + 30
    while time.time() < deadline:
        if len([j for j in slurm_jobs_of(cluster, "slstop-") if j[2] == "RUNNING"]) == 2:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("slstop's jobs did not run: %s" % cluster.squeue())
    d.ok("StopTuningJob", {"AwsAccountId": ACCOUNT, "TuningJobName": "slstop"})
    st = d.wait_status("slstop", ["Stopped"], timeout=30)
    for j in d.training_jobs("slstop"):
        assert j["TrainingJobStatus"] == "Stopped", j
    wait_no_active(cluster, "slstop-", timeout=10)
    st = d.wait_status("sltime", ["Completed", "Failed"], timeout=60)
    for j in d.training_jobs("sltime"):
        assert j["TrainingJobStatus"] == "Stopped", j
        t = current(d, "DescribeTrainingJob", {"TrainingJobName": j["TrainingJobName"]})
        assert t["SecondaryStatus"] == "MaxRuntimeExceeded", t
    wait_no_active(cluster, "sltime-", timeout=10)
    assert not [j for j in slurm_jobs_of(cluster, "sl") if j[2] in ACTIVE]


def current(d, op, body):
    st, _, raw = d.raw("/", json.dumps(body).encode(), headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "SageMaker." + op})
    js = json.loads(raw) if raw else None
    assert st == 200, (op, st, js)
    return js


HOSTS_PROGRAM = r'''#!/usr/bin/python3
import json, os, sys, time
cfg = os.environ["SM_INPUT_CONFIG_DIR"]
rc = json.load(open(os.path.join(cfg, "resourceconfig.json")))
hp = json.load(open(os.path.join(cfg, "hyperparameters.json")))
rec = {"rc": rc, "current": os.environ["SM_CURRENT_HOST"], "hosts": json.loads(os.environ["SM_HOSTS"]),
       "node": os.environ.get("SLURMD_NODENAME"), "job": os.environ["TRAINING_JOB_NAME"]}
out = hp["report"]
with open(os.path.join(out, "%s-%s.json" % (rec["job"], rec["current"])), "w") as f:
    json.dump(rec, f)
time.sleep(0.5)
print("accuracy=%s" % (1.0 if rec["current"] == "algo-1" else -1.0), flush=True)
'''


def test_slurm_instance_count_2_runs_on_two_nodes_with_per_host_config(tmp_path, cluster3):
    prog = tmp_path / "hosts.py"
    prog.write_text(HOSTS_PROGRAM)
    prog.chmod(0o755)
    report = tmp_path / "report"
    report.mkdir()
    d = slurm_hpod(tmp_path, cluster3,
                   images={"hosts:latest": {"backend": "slurm", "command": [str(prog)]}}).start()
    req = job_request(name="slmn", max_jobs=1, parallel=1, image="hosts:latest",
                      static={"report": str(report)})
    req["TrainingJobDefinition"]["ResourceConfig"]["InstanceCount"] = 2
    d.ok("CreateTuningJob", req)
    st = d.wait_status("slmn", ["Completed", "Failed"], timeout=60)
    assert st["TuningJobStatus"] == "Completed", (st, d.read_log())
    (job,) = d.training_jobs("slmn")
    # algo-1's log is the one read for metrics.
    assert job["FinalTuningJobObjectiveMetric"]["Value"] == 1.0
    recs = [json.load(open(str(report / f))) for f in sorted(os.listdir(str(report)))]
    assert [r["current"] for r in recs] == ["algo-1", "algo-2"]
    for r in recs:
        assert r["rc"]["current_host"] == r["current"]
        assert r["rc"]["hosts"] == ["algo-1", "algo-2"] == r["hosts"]
        assert r["job"] == job["TrainingJobName"]
    nodes = [r["node"] for r in recs]
    assert len(set(nodes)) == 2 and all(n in cluster3.nodes for n in nodes), nodes
    # Node order: algo-1 on the allocation's first node.
    assert nodes == sorted(nodes)
    (sj,) = slurm_jobs_of(cluster3, "slmn-")
    assert sj[2] == "COMPLETED"


def test_slurm_kill_9_of_hpod_loses_and_repeats_no_slurm_job(tmp_path, cluster3):
    d = slurm_hpod(tmp_path, cluster3).start()
    req = job_request(name="slkill", max_jobs=6, parallel=3,
                      static={"mode": "normal", "sleep": "2"})
    d.ok("CreateTuningJob", req)
    # Kill hpod while its first jobs run in Slurm.
    deadline = time.time() + 30
    while time.time() < deadline:
        if len([j for j in slurm_jobs_of(cluster3, "slkill-") if j[2] == "RUNNING"]) >= 2:
            break
        time.sleep(0.05)
    d.stop(sig=signal.SIGKILL)
    time.sleep(1)
    d.start()
    st = d.wait_status("slkill", ["Completed", "Failed"], timeout=120)
    assert st["TuningJobStatus"] == "Completed", (st, d.read_log())
    jobs = d.training_jobs("slkill")
    assert len(jobs) == 6
    for j in jobs:
        assert j["TrainingJobStatus"] == "Completed", j
        assert j["RetriedAttempt"] == 0, j
    # One Slurm submission per training job: none lost, none run twice.
    sj = slurm_jobs_of(cluster3, "slkill-")
    per = {}
    for j in sj:
        per.setdefault(j[1], []).append(j)
    assert len(per) == 6 and all(len(v) == 1 for v in per.values()), sj
    assert {j[2] for j in sj} == {"COMPLETED"}, sj


FLAKY_NODE_PROGRAM = r'''#!/usr/bin/python3
import json, os, sys, time
cfg = os.environ["SM_INPUT_CONFIG_DIR"]
hp = json.load(open(os.path.join(cfg, "hyperparameters.json")))
mark = hp["mark"]
first = not os.path.exists(mark)
open(mark, "a").write("%s\n" % os.environ.get("SLURMD_NODENAME"))
if first:
    while True:
        print("waiting for my node to fail", flush=True)
        time.sleep(0.2)
print("accuracy=0.5", flush=True)
'''


def test_slurm_node_failure_is_retried(tmp_path, cluster3):
    prog = tmp_path / "flaky.py"
    prog.write_text(FLAKY_NODE_PROGRAM)
    prog.chmod(0o755)
    mark = str(tmp_path / "mark")
    d = slurm_hpod(tmp_path, cluster3,
                   images={"flaky:latest": {"backend": "slurm", "command": [str(prog)]}}).start()
    req = job_request(name="slnode", max_jobs=1, parallel=1, image="flaky:latest",
                      static={"mark": mark})
    d.ok("CreateTuningJob", req)
    deadline = time.time() + 30
    while time.time() < deadline and not os.path.exists(mark):
        time.sleep(0.05)
    assert os.path.exists(mark), d.read_log()
    node = open(mark).read().split()[0]
    assert node in cluster3.nodes
    # The node goes down under the job: Slurm ends it NODE_FAIL.
    cluster3.run("/usr/bin/scontrol", "update", "nodename=" + node, "state=down",
                 "reason=test")
    try:
        st = d.wait_status("slnode", ["Completed", "Failed"], timeout=60)
    finally:
        cluster3.run("/usr/bin/scontrol", "update", "nodename=" + node, "state=resume",
                     check=False)
    assert st["TuningJobStatus"] == "Completed", (st, d.read_log())
    (job,) = d.training_jobs("slnode")
    assert job["TrainingJobStatus"] == "Completed", job
    assert job["RetriedAttempt"] == 1, job
    sj = sorted(slurm_jobs_of(cluster3, "slnode-"), key=lambda j: int(j[0]))
    assert [j[2] for j in sj] == ["NODE_FAIL", "COMPLETED"], sj
    ran_on = open(mark).read().split()
    assert ran_on[0] == node and ran_on[1] != node, ran_on
    # Back in service, the node's slurmd is told to kill what is left of the
    # failed job: nothing of it keeps running.
    deadline = time.time() + 30
    while time.time() < deadline and programs_running(str(prog)):
        time.sleep(0.2)
    assert not programs_running(str(prog))


def programs_running(path):
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                argv = open("/proc/%s/cmdline" % pid, "rb").read().split(b"\0")
            except OSError:
                continue
            if path.encode() in argv:
                found.append(int(pid))
    return found


SLOW_SBATCH = r'''#!/bin/sh
# sbatch that submits (held, so the job is still PENDING) and then does not
# answer for a minute: the daemon dies before it has a handle.
echo $$ >> "%(log)s"
/usr/bin/sbatch --hold "$@" > "%(log)s.out.$$" 2>&1
sleep 60
cat "%(log)s.out.$$"
'''


def test_slurm_restart_before_the_handle_finds_the_job_by_name(tmp_path, cluster3):
    """kill -9 while sbatch has submitted but not answered: neither the
    handle nor slurm.jobid exists; the restarted daemon finds the Slurm job
    by its name and does not submit it again."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for prog in ("squeue", "scancel", "sacct", "sinfo", "srun"):
        os.symlink("/usr/bin/" + prog, str(bindir / prog))
    log = str(tmp_path / "sbatch-calls")
    (bindir / "sbatch").write_text(SLOW_SBATCH % {"log": log})
    (bindir / "sbatch").chmod(0o755)
    cat = {"trainer:latest": {"backend": "slurm", "command": [sys.executable, TRAINER]}}
    (tmp_path / "images.json").write_text(json.dumps(cat))
    conf = cluster3.backend_config(str(tmp_path / "backends.json"), bin_dir=str(bindir))
    d = Hpod(str(tmp_path), ["--backend-config", conf, "--grace", "2"]).start()
    # One job: the engine's one worker waits in this sbatch.
    req = job_request(name="slname", max_jobs=1, parallel=1, static={"mode": "normal"})
    d.ok("CreateTuningJob", req)
    deadline = time.time() + 30
    while time.time() < deadline:
        if os.path.exists(log) and len(open(log).read().split()) == 1 and \
                len(slurm_jobs_of(cluster3, "slname-")) == 1:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("no submissions: %s" % d.read_log())
    d.stop(sig=signal.SIGKILL)
    for pid in open(log).read().split():
        try:
            os.killpg(int(pid), signal.SIGKILL)
        except OSError:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass
    jobs_dir = os.path.join(d.data, "jobs")
    for root, _, files in os.walk(jobs_dir):
        assert "slurm.jobid" not in files, root  # nothing recorded the id
    d.start()
    hlog = os.path.join(str(tmp_path), "hpod.log")
    deadline = time.time() + 20
    while time.time() < deadline and "found job" not in open(hlog, errors="replace").read():
        time.sleep(0.05)
    (held,) = slurm_jobs_of(cluster3, "slname-")
    assert held[2] == "PENDING", held
    cluster3.run("/usr/bin/scontrol", "release", held[0])
    st = d.wait_status("slname", ["Completed", "Failed"], timeout=60)
    assert st["TuningJobStatus"] == "Completed", (st, d.read_log())
    for j in d.training_jobs("slname"):
        assert j["TrainingJobStatus"] == "Completed", j
        assert j["RetriedAttempt"] == 0, j
    assert len(open(log).read().split()) == 1  # no second submission
    sj = slurm_jobs_of(cluster3, "slname-")
    assert len(sj) == 1 and {j[2] for j in sj} == {"COMPLETED"}, sj
    with open(os.path.join(str(tmp_path), "hpod.log"), errors="replace") as f:
        assert "found job hpo-%s-" % sj[0][1][len("hpo-"):].rsplit("-", 1)[0] in f.read()


def test_slurm_failures_are_reported_with_their_reason(tmp_path, cluster):
    """A program that exits 3 is Failed with its last line; one that is not
    there fails at launch (not as a lost job); a job cancelled outside
    openhpo is Failed saying so."""
    d = slurm_hpod(tmp_path, cluster, images={
        "missing:latest": {"backend": "slurm", "command": ["/nonexistent/train"]}}).start()
    d.ok("CreateTuningJob", job_request(name="slcrash", max_jobs=1, parallel=1,
                                        static={"mode": "crash"}))
    d.ok("CreateTuningJob", job_request(name="slmiss", max_jobs=1, parallel=1,
                                        image="missing:latest"))
    d.ok("CreateTuningJob", job_request(name="slext", max_jobs=1, parallel=1,
                                        static={"mode": "sleep", "sleep": "60"}))
    for name, want in (("slcrash", "exited with code 3: about to crash"),
                       ("slmiss", "cannot execute /nonexistent/train")):
        d.wait_status(name, ["Completed", "Failed"], timeout=60)
        (j,) = d.training_jobs(name)
        t = current(d, "DescribeTrainingJob", {"TrainingJobName": j["TrainingJobName"]})
        assert t["TrainingJobStatus"] == "Failed" and want in t["FailureReason"], t
    assert not slurm_jobs_of(cluster, "slmiss-")  # never submitted
    deadline = time.time() + 30
    while time.time() < deadline:
        run = [j for j in slurm_jobs_of(cluster, "slext-") if j[2] == "RUNNING"]
        if run:
            break
        time.sleep(0.1)
    cluster.run("/usr/bin/scancel", run[0][0])
    d.wait_status("slext", ["Completed", "Failed"], timeout=60)
    (j,) = d.training_jobs("slext")
    t = current(d, "DescribeTrainingJob", {"TrainingJobName": j["TrainingJobName"]})
    assert t["TrainingJobStatus"] == "Failed", t
    assert "cancelled outside openhpo" in t["FailureReason"], t


def test_slurm_jobs_slurm_has_forgotten_are_decided_by_their_files(tmp_path):
    """hpod dies; its jobs end; slurmctld forgets them (restarted with -c,
    as after MinJobAge): the restarted hpod finishes them from exit.json."""
    c = cluster_or_skip(tmp_path / "own", nodes=1)
    try:
        d = slurm_hpod(tmp_path, c).start()
        d.ok("CreateTuningJob", job_request(name="slgone", max_jobs=2, parallel=2,
                                            static={"mode": "normal", "sleep": "1"}))
        deadline = time.time() + 30
        while time.time() < deadline:
            if len([j for j in slurm_jobs_of(c, "slgone-") if j[2] == "RUNNING"]) == 2:
                break
            time.sleep(0.05)
        d.stop(sig=signal.SIGKILL)
        deadline = time.time() + 30
        while time.time() < deadline:
            if [j[2] for j in slurm_jobs_of(c, "slgone-")] == ["COMPLETED"] * 2:
                break
            time.sleep(0.1)
        c.restart_controller(clear=True)
        assert not slurm_jobs_of(c, "slgone-")
        d.start()
        st = d.wait_status("slgone", ["Completed", "Failed"], timeout=60)
        assert st["TuningJobStatus"] == "Completed", (st, d.read_log())
        for j in d.training_jobs("slgone"):
            assert j["TrainingJobStatus"] == "Completed" and j["RetriedAttempt"] == 0, j
        assert not slurm_jobs_of(c, "slgone-")  # nothing was submitted again
    finally:
        c.stop()
