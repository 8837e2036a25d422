"""A real Slurm 22.05 cluster on this machine, for the Slurm backend's tests
and bench/slurm_refill.py (Debian's slurm-wlm and munge; see
/work/shared/notes/real-components.md).

SlurmCluster(tmp, nodes=N) starts, under the directory `tmp`:
  munged     its own key, socket, pid and seed files;
  slurmctld  -D, every path (state, logs, pid) under tmp, own port;
  slurmd     one per node (`slurmd -D -N nK` on its own port), all on 127.0.0.1.
No systemd and no cgroups (proctrack/linuxproc, task/none); jobcomp/filetxt so
that `sacct -c` works; the scheduler's fast parameters so that jobs start in
well under a second. Each node claims 16 CPUs and 64 GiB (config_overrides),
so that jobs sized by the instance table (ml.m4.xlarge: 4 vCPUs, 16 GiB) fit
several to a node. The daemons are stopped by pid in stop().

cluster_or_skip() returns a started cluster, or skips the test with the reason
when the daemons cannot start (not root, slurm-wlm missing): on the project's
machines and in CI (root, Debian) they run."""
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

SBIN = "/usr/sbin"
BIN = "/usr/bin"


def _free_port_block(n):
    """A base port with n free TCP ports after it (the daemons bind 0.0.0.0)."""
    for _ in range(50):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        base = s.getsockname()[1]
        s.close()
        if base + n >= 65000:
            continue
        ok = True
        for p in range(base, base + n + 1):
            t = socket.socket()
            try:
                t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                t.bind(("0.0.0.0", p))
            except OSError:
                ok = False
            finally:
                t.close()
            if not ok:
                break
        if ok:
            return base
    raise RuntimeError("no block of free ports")


class SlurmCluster:
    def __init__(self, tmp, nodes=1):
        self.dir = os.path.join(str(tmp), "slurm")
        self.nnodes = nodes
        self.nodes = ["n%d" % (i + 1) for i in range(nodes)]
        self.procs = {}
        self.host = socket.gethostname()
        self.conf = os.path.join(self.dir, "slurm.conf")
        self.jobcomp = os.path.join(self.dir, "jobcomp.txt")
        self.env = dict(os.environ, SLURM_CONF=self.conf)

    def _write_conf(self):
        d = self.dir
        base = _free_port_block(self.nnodes + 2)
        self.ctld_port = base
        for sub in ("state", "spool", "log", "munge"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        for n in self.nodes:
            os.makedirs(os.path.join(d, "spool", n), exist_ok=True)
        self.munge_sock = os.path.join(d, "munge", "munge.socket")
        nodes_spec = "n[1-%d]" % self.nnodes if self.nnodes > 1 else "n1"
        ports = ("%d-%d" % (base + 2, base + 1 + self.nnodes)) if self.nnodes > 1 else str(base + 2)
        conf = """ClusterName=openhpo-test
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld}
SlurmdPort={slurmd}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={sock}
SlurmUser=root
SlurmdUser=root
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool/%n
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/spool/%n/slurmd.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={jobcomp}
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SlurmdParameters=config_overrides
ReturnToService=1
MpiDefault=none
KillWait=5
MinJobAge=600
SlurmdTimeout=30
InactiveLimit=0
Waittime=0
NodeName={nodes} NodeHostname={host} NodeAddr=127.0.0.1 Port={ports} CPUs=16 RealMemory=65536 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
""".format(host=self.host, ctld=base, slurmd=base + 1, sock=self.munge_sock, d=d,
           jobcomp=self.jobcomp, nodes=nodes_spec, ports=ports)
        with open(self.conf, "w") as f:
            f.write(conf)

    def _spawn(self, name, argv):
        log = open(os.path.join(self.dir, "log", name + ".out"), "ab")
        p = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                             env=self.env, start_new_session=True)
        self.procs[name] = p
        return p

    def start(self, timeout=30):
        if os.geteuid() != 0:
            raise RuntimeError("the test cluster's daemons run as root (uid %d)" % os.geteuid())
        for prog in (SBIN + "/munged", SBIN + "/slurmctld", SBIN + "/slurmd", BIN + "/sbatch"):
            if not os.access(prog, os.X_OK):
                raise RuntimeError("%s is missing (scripts/deps installs slurm-wlm and munge)"
                                   % prog)
        os.makedirs(self.dir, exist_ok=True)
        self._write_conf()
        m = os.path.join(self.dir, "munge")
        key = os.path.join(m, "munge.key")
        with open(key, "wb") as f:
            f.write(os.urandom(1024))
        os.chmod(key, 0o400)
        os.chmod(m, 0o700)
        self._spawn("munged", [SBIN + "/munged", "-F", "-f", "--key-file", key,
                               "--socket", self.munge_sock,
                               "--pid-file", os.path.join(m, "munged.pid"),
                               "--seed-file", os.path.join(m, "munged.seed"),
                               "--log-file", os.path.join(self.dir, "log", "munged.log")])
        deadline = time.time() + timeout
        while not os.path.exists(self.munge_sock):
            if time.time() > deadline or self.procs["munged"].poll() is not None:
                raise RuntimeError("munged did not start: " + self.log_tail("munged.out"))
            time.sleep(0.05)
        self._spawn("slurmctld", [SBIN + "/slurmctld", "-D", "-c", "-i", "-f", self.conf])
        for n in self.nodes:
            self.start_node(n)
        while True:
            st = self.node_states()
            if st and len(st) == self.nnodes and all(s.startswith("idle") for s in st.values()):
                return self
            for name, p in self.procs.items():
                if p.poll() is not None:
                    raise RuntimeError("%s exited: %s" % (name, self.log_tail(name + ".out")))
            if time.time() > deadline:
                raise RuntimeError("the nodes did not become idle: %s; %s" % (
                    st, self.log_tail("slurmctld.log", "log")))
            time.sleep(0.1)

    def restart_controller(self, clear=True):
        """Restarts slurmctld; with clear, it forgets every job (-c), as one
        whose records were purged."""
        self._kill("slurmctld")
        argv = [SBIN + "/slurmctld", "-D", "-i", "-f", self.conf] + (["-c"] if clear else [])
        self._spawn("slurmctld", argv)
        deadline = time.time() + 30
        while time.time() < deadline:
            st = self.node_states()
            if st and all(s.startswith("idle") for s in st.values()):
                return
            time.sleep(0.1)
        raise RuntimeError("slurmctld did not come back: " + self.log_tail("slurmctld.log"))

    def start_node(self, n):
        self._spawn("slurmd-" + n, [SBIN + "/slurmd", "-D", "-N", n, "-f", self.conf])

    def kill_node(self, n):
        """SIGKILLs node n's slurmd (its job steps live on, as on a real node
        that lost its daemon)."""
        p = self.procs.get("slurmd-" + n)
        if p and p.poll() is None:
            p.kill()
            p.wait()

    def log_tail(self, name, sub="log"):
        try:
            with open(os.path.join(self.dir, sub, name), errors="replace") as f:
                return f.read()[-3000:]
        except OSError as e:
            return str(e)

    def run(self, *argv, check=True):
        r = subprocess.run(list(argv), env=self.env, capture_output=True, text=True, timeout=30)
        if check and r.returncode:
            raise RuntimeError("%s: %s %s" % (argv, r.stdout, r.stderr))
        return r.stdout

    def node_states(self):
        try:
            out = self.run(BIN + "/sinfo", "-h", "-N", "-o", "%N %T", check=False)
        except subprocess.TimeoutExpired:
            return {}
        st = {}
        for line in out.splitlines():
            p = line.split()
            if len(p) == 2:
                st[p[0]] = p[1]
        return st

    def squeue(self, states="all"):
        """[(id, name, state, nodes)] of the jobs Slurm knows."""
        out = self.run(BIN + "/squeue", "-h", "-t", states, "-o", "%i|%j|%T|%N", check=False)
        return [tuple(line.split("|")) for line in out.splitlines() if line.count("|") == 3]

    def active_jobs(self):
        return [j for j in self.squeue() if j[2] in (
            "PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED",
            "RESIZING", "SIGNALING", "STAGE_OUT")]

    def backend_config(self, path, **extra):
        """Writes an hpod --backend-config file selecting this cluster."""
        import json
        conf = {"slurm": dict({"slurm_conf": self.conf, "poll_ms": 200}, **extra)}
        with open(path, "w") as f:
            json.dump(conf, f)
        return path

    def stop(self):
        for name in list(self.procs)[::-1]:
            if name.startswith("slurmd"):
                self._kill(name)
        self._kill("slurmctld")
        self._kill("munged")
        # Job steps of killed slurmds (linuxproc tracks no more than that).
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                argv = open("/proc/%s/cmdline" % pid, "rb").read()
            except OSError:
                continue
            if argv.startswith(b"slurmstepd") and os.path.exists(self.dir):
                try:
                    env = open("/proc/%s/environ" % pid, "rb").read()
                except OSError:
                    env = b""
                if self.conf.encode() in env:
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except OSError:
                        pass

    def _kill(self, name):
        p = self.procs.pop(name, None)
        if p and p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def cluster_or_skip(tmp, nodes=1):
    c = SlurmCluster(tmp, nodes)
    try:
        return c.start()
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        c.stop()
        pytest.skip("the Slurm test cluster did not start: %s" % e)


def have_slurm():
    return shutil.which("sbatch") is not None
