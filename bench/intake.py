#!/usr/bin/env python3
"""Request body intake through hpod on loopback.

Prints, for bodies of 200 B (the per-request floor), 100 KB and 1 MiB, the
median MB/s of REPEATS requests (bytes of body / time from the first byte sent
to the last byte of the answer) on one kept-alive connection, as SDKs send
them, and on a fresh connection each. Two requests: "intake" is a POST to an
unknown 2017 operation, answered once the whole body is in but without parsing
it (the HTTP layer alone); "parsed" is a DescribeTuningJob padded with JSON
whitespace (legal, its answer cheap), so the api layer's JSON parse is
included. Then the time hpod takes to
refuse a 16 MiB body (headers and body sent as fast as the socket takes them;
time until the answer has been read), with the answer's status and whether
the connection was closed. The aim is >= 100 MB/s and a refusal in
milliseconds.

usage: bench/intake.py [--repeats R] [--timeout S]   (HPOD_BIN overrides build/hpod)
"""
import argparse
import json
import os
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HPOD = os.environ.get("HPOD_BIN", os.path.join(ROOT, "build", "hpod"))
ACCOUNT = "123456789012"


def start(tmp):
    port_file = os.path.join(tmp, "port")
    log = open(os.path.join(tmp, "hpod.log"), "w")
    p = subprocess.Popen([HPOD, "--listen", "127.0.0.1:0", "--data-dir", os.path.join(tmp, "d"),
                          "--port-file", port_file], stdout=log, stderr=log)
    deadline = time.time() + 20
    while time.time() < deadline:
        if os.path.exists(port_file) and open(port_file).read().strip():
            return p, int(open(port_file).read())
        time.sleep(0.02)
    p.kill()
    sys.exit("hpod did not start")


def padded_body(size):
    head = json.dumps({"AwsAccountId": ACCOUNT, "TuningJobName": "absent"}).encode()
    return head[:-1] + b" " * (size - len(head)) + b"}"


def request_head(port, n, op="DescribeTuningJob", close=True):
    return ("POST /%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\n%s\r\n" % (op, port, n,
                                               "Connection: close\r\n" if close else "")).encode()


def exchange(port, body, timeout, keep=None, op="DescribeTuningJob"):
    """Sends head+body while reading; returns (seconds, answer bytes, closed).
    With `keep` (a connected socket) the request goes on it and it stays open."""
    s = keep or socket.create_connection(("127.0.0.1", port))
    s.setblocking(False)
    out = memoryview(request_head(port, len(body), op, close=keep is None) + body)
    got = b""
    closed = False
    t0 = time.perf_counter()
    end = t0 + timeout
    while time.perf_counter() < end:
        r, w, _ = select.select([s], [s] if out else [], [], 0.5)
        if w:
            try:
                out = out[s.send(out[:1 << 20]):]
            except (BrokenPipeError, ConnectionResetError):
                out = out[:0]
        if r:
            try:
                chunk = s.recv(1 << 16)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                closed = True
                break
            got += chunk
            if answer_complete(got):
                break
    t = time.perf_counter() - t0
    if keep is not None:
        return t, got, closed
    if not closed and answer_complete(got):
        # The answer is complete; does the server close (Connection: close)?
        r, _, _ = select.select([s], [], [], 1.0)
        if r:
            try:
                closed = s.recv(1) == b""
            except ConnectionResetError:
                closed = True
    s.close()
    return t, got, closed


def answer_complete(got):
    head, sep, rest = got.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            return len(rest) >= int(v)
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--timeout", type=float, default=20.0)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        p, port = start(tmp)
        try:
            print("%-16s %20s %20s" % ("MB/s (median)", "kept-alive", "new connection"))
            for label, size in (("200 B", 200), ("100 KB", 100 * 1000), ("1 MiB", 1 << 20)):
                body = padded_body(size)
                for what, op in (("intake", "NoSuchOperation"), ("parsed", "DescribeTuningJob")):
                    cells = []
                    for how in ("kept-alive", "new connection"):
                        keep = socket.create_connection(("127.0.0.1", port)) \
                            if how == "kept-alive" else None
                        times, status = [], "?"
                        for _ in range(a.repeats):
                            t, got, _ = exchange(port, body, a.timeout, keep, op)
                            status = got.split(b" ", 2)[1].decode() if got else "none"
                            times.append(t if got else float("inf"))
                        if keep:
                            keep.close()
                        med = statistics.median(times)
                        cells.append("%8.1f (%6.2f ms)" % (size / med / 1e6, med * 1e3))
                    print("%-16s %20s %20s   [%s]" % ("%s %s" % (label, what), cells[0], cells[1],
                                                      status))
            big = 16 << 20
            t, got, closed = exchange(port, b"{" + b" " * (big - 2) + b"}", a.timeout)
            status = got.split(b" ", 2)[1].decode() if got else "none"
            kind = "ValidationError" if b"ValidationError" in got else "-"
            print("16 MiB refused in %.4f s: status %s %s, connection %s" % (
                t, status, kind, "closed" if closed else "open"))
        finally:
            p.terminate()
            p.wait(timeout=20)


if __name__ == "__main__":
    main()
