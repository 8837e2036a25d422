"""A real Docker engine for the Docker backend's tests (and the container
benchmark): dockerd from Debian's docker.io with its own data root, exec root,
pidfile and socket under a temporary directory, no iptables and no default
bridge (jobs get no network, or their own per-job network); the tiny test
image is built from Debian packages (tests/images/build.sh) and imported.
dockerd is stopped (by its pid) at the end.

If dockerd cannot start, the tests that need it skip with the reason; on a
Debian machine as root (this one, CI) it must start."""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.join(HERE, "..", "images", "build.sh")
DOCKERD = shutil.which("dockerd") or "/usr/bin/dockerd"
IMAGE = "openhpo-test:1"
START_TIMEOUT = 30


class _UnixConn(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("docker", timeout=timeout)
        self._path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self._path)
        self.sock = s


class Engine:
    """One dockerd on its own socket."""

    def __init__(self, root):
        self.root = root
        self.sock = os.path.join(root, "docker.sock")
        self.proc = None
        self.log_path = os.path.join(root, "dockerd.log")

    def api(self, method, path, body=None, timeout=30):
        """(status, parsed JSON or raw bytes) of one Engine API call."""
        c = _UnixConn(self.sock, timeout)
        try:
            data = json.dumps(body).encode() if body is not None else None
            c.request(method, path, body=data,
                      headers={"Content-Type": "application/json"} if data else {})
            r = c.getresponse()
            raw = r.read()
            try:
                return r.status, json.loads(raw) if raw else None
            except ValueError:
                return r.status, raw
        finally:
            c.close()

    def ping(self):
        try:
            st, body = self.api("GET", "/_ping", timeout=2)
            return st == 200
        except OSError:
            return False

    def containers(self, data_dir=None):
        """Containers (all states) labelled openhpo, of data_dir when given."""
        labels = ["openhpo"] + (["openhpo.data_dir=" + data_dir] if data_dir else [])
        q = urllib.parse.quote(json.dumps({"label": labels}))
        st, body = self.api("GET", "/containers/json?all=1&filters=" + q)
        assert st == 200, body
        return body

    def networks(self, data_dir):
        q = urllib.parse.quote(json.dumps({"label": ["openhpo.data_dir=" + data_dir]}))
        st, body = self.api("GET", "/networks?filters=" + q)
        assert st == 200, body
        return body

    def start(self, extra=()):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [DOCKERD, "--data-root", os.path.join(self.root, "data"),
             "--exec-root", os.path.join(self.root, "exec"),
             "--pidfile", os.path.join(self.root, "docker.pid"),
             "-H", "unix://" + self.sock, "--iptables=false", "--ip6tables=false",
             "--bridge=none"] + list(extra),
            stdout=self.log, stderr=self.log, start_new_session=True)
        deadline = time.time() + START_TIMEOUT
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            if os.path.exists(self.sock) and self.ping():
                return True
            time.sleep(0.05)
        return False

    def read_log(self):
        try:
            return open(self.log_path, errors="replace").read()[-3000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            for c in self.containers() if self.ping() else []:
                self.api("DELETE", "/containers/%s?force=1" % c["Id"])
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def start_engine():
    """A started Engine with the test image, or (None, why)."""
    if os.geteuid() != 0:
        return None, "dockerd needs root (running as uid %d)" % os.geteuid()
    if not os.path.exists(DOCKERD):
        return None, "dockerd is not installed (scripts/deps installs docker.io)"
    # A short path: a unix socket's path is at most 107 bytes.
    root = tempfile.mkdtemp(prefix="hpo-dk-", dir="/tmp")
    eng = Engine(root)
    # overlay2 where the kernel and the filesystem allow it, else vfs.
    for extra in ((), ("--storage-driver", "vfs")):
        if eng.start(extra):
            break
        why = eng.read_log()
        eng.stop()
    else:
        shutil.rmtree(root, ignore_errors=True)
        return None, "dockerd did not start: " + why[-800:]
    r = subprocess.run(["sh", BUILD, eng.sock, IMAGE], capture_output=True, text=True)
    if r.returncode != 0:
        eng.stop()
        shutil.rmtree(root, ignore_errors=True)
        return None, "cannot build the test image: " + r.stderr[-800:]
    return eng, None


def stop_engine(eng):
    if eng:
        eng.stop()
        subprocess.run(["umount", "-R", os.path.join(eng.root, "data")],
                       capture_output=True)
        shutil.rmtree(eng.root, ignore_errors=True)


@pytest.fixture(scope="session")
def docker_engine():
    eng, why = start_engine()
    if not eng:
        pytest.skip(why)
    yield eng
    stop_engine(eng)
