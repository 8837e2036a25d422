"""End-to-end: tenancy (issue 10). Two accounts, A (ACCOUNT) and B (OTHER), signed
with SigV4; each attack of the issue is replayed and refused in the API's own error
shape, and each account's permitted jobs run and leave their model under their
own root. The last test runs the accounts' jobs as two Unix users it creates and
shows that A's program can read neither B's job directory nor the daemon's data."""
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import ACCOUNT, HERE, Hpod, TRAINER, job_request, private_dir
from test_current_api import (KEY_A, KEY_B, OTHER, SECRET_A, SECRET_B, b_dir, current_call,
                              signed, tuning_request, write_credentials)

ONLY_B = "only-b:latest"


def write_images(tmp, extra=None):
    images = {"trainer:latest": [sys.executable, TRAINER],
              ONLY_B: {"command": [sys.executable, TRAINER], "accounts": [OTHER]}}
    images.update(extra or {})
    path = os.path.join(str(tmp), "images.json")
    with open(path, "w") as f:
        json.dump(images, f)
    return path


@pytest.fixture
def tenants(tmp_path):
    """hpod with two accounts: A's roots are the test's private input/output dirs,
    B's is TMP/b-s3 (see write_credentials); jobs run as the user running the test
    (conftest adds --run-as)."""
    write_images(tmp_path)
    d = Hpod(str(tmp_path), ["--credentials", write_credentials(tmp_path)]).start()
    yield d
    d.stop()


def as_b():
    return {"key": KEY_B, "secret": SECRET_B}


def refused(st, js, api, *fragments):
    """A ValidationError in `api`'s shape whose message holds every fragment."""
    want = (400, "ValidationError" if api == "2017" else "ValidationException")
    assert (st, js.get("__type")) == want, (st, js)
    for f in fragments:
        assert f in js["message"], (f, js["message"])
    return js["message"]


def training(name, image="trainer:latest", out=None, channel=None, env=None):
    """CreateTrainingJob of the test's account A paths unless out/channel say."""
    body = {
        "TrainingJobName": name,
        "HyperParameters": {"x": "2.5", "n": "7", "kind": "b"},
        "AlgorithmSpecification": {
            "TrainingImage": image, "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "accuracy", "Regex": "accuracy=([-+0-9.eE]+)"}]},
        "RoleArn": "arn:aws:iam::%s:role/openhpo" % ACCOUNT,
        "OutputDataConfig": {"S3OutputPath": out if out is not None else
                             "file://" + private_dir("output")},
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                           "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }
    if channel is not None:
        body["InputDataConfig"] = [{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": channel}}}]
    if env is not None:
        body["Environment"] = env
    return body


def tuning(name, image="trainer:latest", env=None):
    body = tuning_request(name, max_jobs=1, parallel=1)
    body["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingImage"] = image
    if env is not None:
        body["TrainingJobDefinition"]["Environment"] = env
    return body


def wait_training(d, name, timeout=60, **kw):
    deadline = time.time() + timeout
    while time.time() < deadline:
        st, js = current_call(d, "DescribeTrainingJob", {"TrainingJobName": name}, **kw)
        assert st == 200, js
        if js["TrainingJobStatus"] not in ("InProgress", "Stopping"):
            return js
        time.sleep(0.05)
    raise AssertionError("%s still running: %s\n%s" % (name, js, d.read_log()))


def nothing_created(d):
    for kw in ({}, as_b()):
        st, js = current_call(d, "ListTrainingJobs", {}, **kw)
        assert st == 200 and js["TrainingJobSummaries"] == [], js
        st, js = current_call(d, "ListHyperParameterTuningJobs", {}, **kw)
        assert st == 200 and js["HyperParameterTuningJobSummaries"] == [], js


# ---- what may run ----

@pytest.mark.parametrize("image", ["/bin/sh", "file:///bin/sh"])
def test_tenancy_host_program_refused_on_both_apis(tenants, image):
    d = tenants
    st, js = signed(d, "/CreateTuningJob", job_request("host", image=image))
    refused(st, js, "2017", "TrainingJobDefinition.AlgorithmSpecification.TrainingImage",
            "--allow-host-programs")
    st, js = current_call(d, "CreateTrainingJob", training("host", image=image))
    refused(st, js, "current", "AlgorithmSpecification.TrainingImage", "--allow-host-programs")
    st, js = current_call(d, "CreateHyperParameterTuningJob", tuning("host", image=image))
    refused(st, js, "current", "TrainingJobDefinition.AlgorithmSpecification.TrainingImage",
            "--allow-host-programs")
    nothing_created(d)


def test_tenancy_catalog_entry_of_b_is_unknown_to_a(tenants):
    d = tenants
    st, js = current_call(d, "CreateTrainingJob", training("img", image=ONLY_B))
    msg_b = refused(st, js, "current", "is not in the image catalog")
    st, js = current_call(d, "CreateTrainingJob", training("img", image="no-such:latest"))
    msg_none = refused(st, js, "current")
    # Word for word the answer for an image that does not exist.
    assert msg_b.replace(ONLY_B, "X") == msg_none.replace("no-such:latest", "X")
    st, js = signed(d, "/CreateTuningJob", job_request("img", image=ONLY_B))
    refused(st, js, "2017", "is not in the image catalog")
    nothing_created(d)
    # B may use it.
    st, js = current_call(d, "CreateTrainingJob",
                          training("img", image=ONLY_B, out="file://" + b_dir(d.tmp)), **as_b())
    assert st == 200, js
    assert wait_training(d, "img", **as_b())["TrainingJobStatus"] == "Completed"


def test_tenancy_host_programs_when_allowed(tmp_path):
    write_images(tmp_path)
    d = Hpod(str(tmp_path), ["--credentials", write_credentials(tmp_path),
                             "--allow-host-programs"]).start()
    try:
        prog = tmp_path / "train.sh"
        prog.write_text("#!/bin/sh\necho accuracy=0.5\n")
        prog.chmod(0o755)
        st, js = current_call(d, "CreateTrainingJob", training("hp", image=str(prog)))
        assert st == 200, js
        assert wait_training(d, "hp")["TrainingJobStatus"] == "Completed"
    finally:
        d.stop()


# ---- what it sees of the host ----

@pytest.mark.parametrize("key", ["BASH_ENV", "LD_PRELOAD"])
def test_tenancy_loader_environment_refused(tenants, key):
    d = tenants
    env = {key: "$(cat %s)" % os.path.join(d.tmp, "credentials.json")}
    st, js = current_call(d, "CreateTrainingJob", training("env", env=env))
    refused(st, js, "current", "Environment: key '%s' is refused" % key,
            "--allow-env %s" % key)
    st, js = current_call(d, "CreateHyperParameterTuningJob", tuning("env", env=env))
    refused(st, js, "current", "TrainingJobDefinition.Environment: key '%s'" % key)
    nothing_created(d)


def test_tenancy_environment_allowed_by_the_operator(tmp_path):
    """--allow-env lets a key through (one-user mode here: the rule holds in both)."""
    d = Hpod(str(tmp_path)).start()
    try:
        body = job_request("env1", max_jobs=1, parallel=1)
        st, js = current_call(d, "CreateTrainingJob", training("e1", env={"PYTHONPATH": "/x"}))
        refused(st, js, "current", "key 'PYTHONPATH' is refused")
    finally:
        d.stop()
    d = Hpod(str(tmp_path), ["--allow-env", "PYTHONPATH"]).start()
    try:
        st, js = current_call(d, "CreateTrainingJob", training("e2", env={"PYTHONPATH": "/x"}))
        assert st == 200, js
        assert wait_training(d, "e2")["TrainingJobStatus"] == "Completed"
        assert d.call("CreateTuningJob", body)[0] == 200
    finally:
        d.stop()


# ---- what it may read and write ----

def test_tenancy_b_output_path_used_by_a(tenants):
    """The issue's attack: A names its job as B's and points at B's output."""
    d = tenants
    b_out = "file://" + b_dir(d.tmp)
    st, js = current_call(d, "CreateTrainingJob", training("shared", out=b_out), **as_b())
    assert st == 200, js
    t = wait_training(d, "shared", **as_b())
    assert t["TrainingJobStatus"] == "Completed", t
    model = os.path.join(b_dir(d.tmp), "shared", "output", "model.tar.gz")
    assert t["ModelArtifacts"]["S3ModelArtifacts"] == "file://" + model
    before = open(model, "rb").read()
    st, js = current_call(d, "CreateTrainingJob", training("shared", out=b_out))
    refused(st, js, "current", "OutputDataConfig.S3OutputPath: '%s'" % b_out,
            "outside the directories account %s may use" % ACCOUNT)
    body = job_request("shared")
    body["TrainingJobDefinition"]["OutputDataConfig"]["S3OutputPath"] = b_out
    st, js = signed(d, "/CreateTuningJob", body)
    refused(st, js, "2017", "TrainingJobDefinition.OutputDataConfig.S3OutputPath")
    st, js = current_call(d, "ListTrainingJobs", {})
    assert js["TrainingJobSummaries"] == [], js
    assert open(model, "rb").read() == before


@pytest.mark.parametrize("where", ["channel", "output"])
def test_tenancy_outside_the_roots(tenants, tmp_path, where):
    d = tenants
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for uri in ("file:///etc", "file://" + str(elsewhere), "file://" + d.data,
                "file://" + private_dir("input") + "/../elsewhere"):
        kw = {"channel": uri} if where == "channel" else {"out": uri}
        st, js = current_call(d, "CreateTrainingJob", training("out1", **kw))
        field = ("InputDataConfig[0].DataSource.S3DataSource.S3Uri" if where == "channel"
                 else "OutputDataConfig.S3OutputPath")
        refused(st, js, "current", "%s: '%s'" % (field, uri))
    # s3:// too, when the account has no s3_roots.
    if where == "output":
        st, js = current_call(d, "CreateTrainingJob", training("out1", out="s3://bucket-b/x"))
        refused(st, js, "current", "'s3://bucket-b/x' is refused: account %s has no s3 roots"
                % ACCOUNT)
    nothing_created(d)


def test_tenancy_symlink_escape(tenants):
    """A link inside A's root that points into B's root is B's, not A's."""
    d = tenants
    evil = os.path.join(private_dir("input"), "evil")
    os.symlink(b_dir(d.tmp), evil)
    st, js = current_call(d, "CreateTrainingJob", training("sym", channel="file://" + evil))
    refused(st, js, "current", "'file://%s'" % evil, "resolved: '%s'" % os.path.realpath(
        b_dir(d.tmp)))
    st, js = current_call(d, "CreateTrainingJob",
                          training("sym", out="file://" + evil + "/not/yet"))
    refused(st, js, "current", "OutputDataConfig.S3OutputPath")
    body = job_request("sym", channels=[{"ChannelName": "train", "DataSource": {
        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "file://" + evil}}}])
    st, js = signed(d, "/CreateTuningJob", body)
    refused(st, js, "2017", "TrainingJobDefinition.InputDataConfig[0]")
    nothing_created(d)


def test_tenancy_permitted_jobs_of_each_account_run(tenants):
    d = tenants
    st, js = current_call(d, "CreateTrainingJob", training("mine"))
    assert st == 200, js
    st, js = current_call(d, "CreateTrainingJob",
                          training("mine", out="file://" + b_dir(d.tmp)), **as_b())
    assert st == 200, js
    st, js = signed(d, "/CreateTuningJob", job_request("tune", max_jobs=1, parallel=1))
    assert st == 200, js
    a = wait_training(d, "mine")
    b = wait_training(d, "mine", **as_b())
    for t, root in ((a, private_dir("output")), (b, b_dir(d.tmp))):
        assert t["TrainingJobStatus"] == "Completed", t
        model = os.path.join(root, "mine", "output", "model.tar.gz")
        assert t["ModelArtifacts"]["S3ModelArtifacts"] == "file://" + model
        assert os.path.getsize(model) > 0
    deadline = time.time() + 60
    while time.time() < deadline:
        st, js = signed(d, "/DescribeTuningJob", {"AwsAccountId": ACCOUNT, "TuningJobName": "tune"})
        assert st == 200, js
        if js["TuningJobStatus"] not in ("Created", "Running"):
            break
        time.sleep(0.05)
    assert js["TuningJobStatus"] == "Completed", js


# ---- as whom it runs ----

def test_tenancy_no_run_as_refuses_jobs(tmp_path):
    write_images(tmp_path)
    creds = write_credentials(tmp_path)
    d = Hpod(str(tmp_path), ["--credentials", creds])
    d.extra_args = ["--credentials", creds]  # without the --run-as conftest adds
    d.start()
    try:
        want = ("no Unix user to run account %s's jobs as: set \"run_as\" for it in the "
                "credentials file or start hpod with --run-as USER" % ACCOUNT)
        st, js = current_call(d, "CreateTrainingJob", training("nouser"))
        assert refused(st, js, "current") == want
        st, js = signed(d, "/CreateTuningJob", job_request("nouser"))
        assert refused(st, js, "2017") == want
        nothing_created(d)
    finally:
        d.stop()


def test_tenancy_unknown_run_as_user_stops_hpod(tmp_path):
    path = os.path.join(str(tmp_path), "creds.json")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"credentials": [
            {"access_key_id": KEY_A, "secret_access_key": SECRET_A, "account_id": ACCOUNT},
            {"access_key_id": KEY_B, "secret_access_key": SECRET_B, "account_id": OTHER,
             "run_as": "openhpo-no-such-user"}]}, f)
    r = subprocess.run([os.environ.get("HPOD_BIN", os.path.join(HERE, "..", "..", "build",
                                                                "hpod")),
                        "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "d"),
                        "--credentials", path], capture_output=True, text=True, timeout=20)
    assert r.returncode != 0
    assert "'openhpo-no-such-user' does not exist" in r.stderr, r.stderr
    assert "account %s (credentials[1])" % OTHER in r.stderr, r.stderr
    assert SECRET_B[4:12] not in r.stderr and SECRET_A[4:12] not in r.stderr


def test_tenancy_credentials_error_shows_no_secret(tmp_path):
    """The issue's report: a secret with a control character."""
    path = os.path.join(str(tmp_path), "creds.json")
    secret = "wJalrXUtnFEMI/K7MDENG\x01bPxRfiCYEXAMPLEKEY"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write('{"credentials": [{"access_key_id": "%s", "secret_access_key": "%s", '
                '"account_id": "%s"}]}' % (KEY_A, secret, ACCOUNT))
    r = subprocess.run([os.environ.get("HPOD_BIN", os.path.join(HERE, "..", "..", "build",
                                                                "hpod")),
                        "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "d"),
                        "--credentials", path], capture_output=True, text=True, timeout=20)
    assert r.returncode != 0
    assert "control character" in r.stderr, r.stderr
    out = r.stdout + r.stderr
    for i in range(len(secret) - 3):
        assert secret[i:i + 4] not in out, (secret[i:i + 4], out)


# ---- two Unix users: jobs cannot read each other's nor the daemon's files ----

USERS = ("hpo-test-a", "hpo-test-b")

SPY = r"""#!/bin/sh
# Tries to read what another tenant's job, or the daemon, owns; reports each.
look() {
    if [ -d "$2" ]; then ls "$2" >/dev/null 2>&1 && r=READ || r=denied
    else cat "$2" >/dev/null 2>&1 && r=READ || r=denied; fi
    echo "spy $1 $r"
}
look b_job_dir "$SPY_B_JOB"
look b_model "$SPY_B_JOB/model"
look b_output_log "$SPY_B_JOB/output.log"
look b_root "$SPY_B_ROOT"
look data_dir "$SPY_DATA"
look database "$SPY_DATA/openhpo.db"
look credentials "$SPY_CREDS"
echo "spy uid $(id -u)"
echo spied > "$SM_MODEL_DIR/model.txt"
echo accuracy=1
"""


@pytest.fixture(scope="module")
def two_users():
    """Runs B's trainer job, then A's spy job, each account as its own Unix user
    (the credentials' run_as; no --run-as), once for the tests below. Yields what
    they need to check."""
    if os.geteuid() != 0:
        pytest.skip("creating the two run_as users needs root (this test runs as root in CI)")
    made = []
    for u in USERS:
        try:
            pwd.getpwnam(u)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                            "/usr/sbin/nologin", u], check=True)
            made.append(u)
    # Not under pytest's tmp_path: that is 0700 root, which the users cannot search.
    base = tempfile.mkdtemp(prefix="openhpo-tenancy-", dir="/tmp")
    os.chmod(base, 0o711)
    d = None
    try:
        roots = {}
        for acct, user in ((ACCOUNT, USERS[0]), (OTHER, USERS[1])):
            pw = pwd.getpwnam(user)
            root = os.path.join(base, "root-" + user)
            for sub in ("", "input", "output"):
                os.makedirs(os.path.join(root, sub), exist_ok=True)
                os.chown(os.path.join(root, sub), pw.pw_uid, pw.pw_gid)
                os.chmod(os.path.join(root, sub), 0o700)
            data = os.path.join(root, "input", "data.txt")
            with open(data, "w") as f:
                f.write("data of %s\n" % user)
            os.chown(data, pw.pw_uid, pw.pw_gid)
            os.chmod(data, 0o600)
            roots[acct] = root
        creds = os.path.join(base, "credentials.json")
        fd = os.open(creds, os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"credentials": [
                {"access_key_id": KEY_A, "secret_access_key": SECRET_A, "account_id": ACCOUNT,
                 "run_as": USERS[0], "file_roots": [roots[ACCOUNT]]},
                {"access_key_id": KEY_B, "secret_access_key": SECRET_B, "account_id": OTHER,
                 "run_as": USERS[1], "file_roots": [roots[OTHER]]}]}, f)
        spy = os.path.join(base, "spy.sh")
        with open(spy, "w") as f:
            f.write(SPY)
        os.chmod(spy, 0o755)
        write_images(base, {"spy:latest": ["/bin/sh", spy]})
        d = Hpod(base, ["--credentials", creds]).start()  # no --run-as: each account's own
        d.extra_args = ["--credentials", creds]

        def job(name, acct, image, env=None):
            r = roots[acct]
            kw = {} if acct == ACCOUNT else as_b()
            body = training(name, image=image, out="file://" + os.path.join(r, "output"),
                            channel="file://" + os.path.join(r, "input"), env=env)
            st, js = current_call(d, "CreateTrainingJob", body, **kw)
            assert st == 200, js
            return wait_training(d, name, **kw)

        b = job("bjob", OTHER, "trainer:latest")
        b_job = os.path.join(d.data, "jobs", OTHER, "bjob")
        a = job("ajob", ACCOUNT, "spy:latest", env={
            "SPY_B_JOB": b_job, "SPY_B_ROOT": roots[OTHER], "SPY_DATA": d.data,
            "SPY_CREDS": creds})
        log = open(os.path.join(d.data, "jobs", ACCOUNT, "ajob", "output.log")).read()
        spied = dict(line.split()[1:3] for line in log.splitlines() if line.startswith("spy "))
        yield {"d": d, "roots": roots, "jobs": {"ajob": (a, ACCOUNT), "bjob": (b, OTHER)},
               "spied": spied, "log": log + d.read_log()}
    finally:
        if d:
            d.cleanup()
        shutil.rmtree(base, ignore_errors=True)
        for u in made:
            subprocess.run(["userdel", u], check=False)


def test_tenancy_two_users_jobs_complete(two_users):
    """Each account's job completes, as its own user, with its model under its root;
    the daemon's files are private."""
    d, roots = two_users["d"], two_users["roots"]
    for name, (t, acct) in two_users["jobs"].items():
        assert t["TrainingJobStatus"] == "Completed", (t, two_users["log"])
        model = os.path.join(roots[acct], "output", name, "output", "model.tar.gz")
        assert t["ModelArtifacts"]["S3ModelArtifacts"] == "file://" + model
        assert os.path.getsize(model) > 0
    assert stat.S_IMODE(os.stat(d.data).st_mode) == 0o711
    assert stat.S_IMODE(os.stat(os.path.join(d.data, "jobs")).st_mode) == 0o711
    assert stat.S_IMODE(os.stat(os.path.join(d.data, "openhpo.db")).st_mode) == 0o600
    assert set(two_users["spied"]) == {"b_job_dir", "b_model", "b_output_log", "b_root",
                                       "data_dir", "database", "credentials", "uid"}, \
        two_users["log"]


def test_tenancy_two_users_read_isolation(two_users):
    """A's program runs as A's user and can read nothing of B's job, B's root, the
    data dir, the database or the credentials file."""
    spied, log = two_users["spied"], two_users["log"]
    assert spied["uid"] == str(pwd.getpwnam(USERS[0]).pw_uid), log
    for what in ("b_job_dir", "b_model", "b_output_log", "b_root", "data_dir", "database",
                 "credentials"):
        assert spied[what] == "denied", (what, log)
