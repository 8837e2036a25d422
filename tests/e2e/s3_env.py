"""A real S3-compatible server for the S3 tests: s3rver 3.7.1 from npm.

s3rver is installed (once) into tests/e2e/.s3rver/ (git-ignored) with
`npm i --prefix DIR s3rver@3.7.1`, started on a free loopback port with its
own temporary directory, waited for until it answers, and killed by PID at
the end. Credentials are S3RVER / S3RVER. When npm or node is missing, or
the install or the start fails, the tests that need it skip with the reason.

s3rver does not check signatures (only the access key id); the signer is
tested against AWS's published examples in tests/unit/test_s3.c.

CountingProxy sits between hpod and s3rver and counts the requests it
forwards, by method and path, so a test can tell how many times an object
was fetched."""
import http.client
import http.server
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_DIR = os.path.join(HERE, ".s3rver")
S3RVER_VERSION = "3.7.1"
S3RVER_JS = os.path.join(NODE_DIR, "node_modules", "s3rver", "bin", "s3rver.js")
KEY = "S3RVER"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_s3rver():
    """Installs s3rver into NODE_DIR if it is not there; the reason it cannot
    be, or None."""
    if os.path.exists(S3RVER_JS):
        return None
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        return "node or npm is not installed (apt-get install nodejs npm)"
    os.makedirs(NODE_DIR, exist_ok=True)
    try:
        r = subprocess.run([npm, "i", "--no-audit", "--no-fund", "--prefix", NODE_DIR,
                            "s3rver@" + S3RVER_VERSION], capture_output=True, timeout=600)
    except subprocess.TimeoutExpired:
        return "npm i s3rver@%s took over 600 s" % S3RVER_VERSION
    if r.returncode != 0 or not os.path.exists(S3RVER_JS):
        return "npm i s3rver@%s failed: %s" % (S3RVER_VERSION, r.stderr.decode()[-500:])
    return None


class S3rver:
    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "s3rver-data")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log = open(os.path.join(tmp, "s3rver.log"), "ab")
        self.proc = subprocess.Popen(
            [shutil.which("node"), S3RVER_JS, "-d", self.dir, "-a", "127.0.0.1",
             "-p", str(self.port)], stdout=self.log, stderr=self.log)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("s3rver exited with %s" % self.proc.returncode)
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/")
                c.getresponse().read()
                c.close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("s3rver did not answer on %s within 30 s" % self.url)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()

    def client(self, endpoint=None):
        import boto3  # Debian's python3-boto3, through /usr/bin/python3
        return boto3.client("s3", endpoint_url=endpoint or self.url, region_name="us-east-1",
                            aws_access_key_id=KEY, aws_secret_access_key=KEY)


class CountingProxy:
    """An HTTP proxy to `upstream` (host, port) that counts what it forwards:
    `requests` is a list of (method, path-with-query, range header). GETs
    under a path prefix in `delay` wait that many seconds first."""

    def __init__(self, upstream_port):
        self.requests = []
        self.delay = {}  # path prefix -> seconds each GET under it waits first
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def forward(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                with outer.lock:
                    outer.requests.append((self.command, self.path, self.headers.get("Range")))
                    wait = max([d for p, d in outer.delay.items()
                                if self.command == "GET" and self.path.startswith(p)] or [0])
                if wait:
                    time.sleep(wait)
                c = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
                hdrs = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                c.request(self.command, self.path, body=body, headers=hdrs)
                r = c.getresponse()
                data = r.read()
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                if self.command != "HEAD":
                    self.send_header("Content-Length", str(len(data)))
                else:
                    self.send_header("Content-Length", r.getheader("Content-Length") or "0")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                c.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def gets_of(self, bucket, key):
        """GET requests of one object (ranged parts counted once per range)."""
        path = "/%s/%s" % (bucket, urllib.parse.quote(key, safe="/~"))
        with self.lock:
            return [r for r in self.requests if r[0] == "GET" and r[1].split("?")[0] == path]

    def count(self, method, needle):
        with self.lock:
            return sum(1 for r in self.requests if r[0] == method and needle in r[1])

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def s3rver(tmp_path_factory):
    why = ensure_s3rver()
    if why:
        pytest.skip("s3rver is not available: " + why)
    try:
        s = S3rver(str(tmp_path_factory.mktemp("s3rver")))
    except (OSError, RuntimeError) as e:
        pytest.skip("s3rver did not start: %s" % e)
    yield s
    s.stop()


@pytest.fixture
def s3_proxy(s3rver):
    p = CountingProxy(s3rver.port)
    yield p
    p.stop()
