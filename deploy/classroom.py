"""A class past one process: N supervised replicas of the app behind Debian's nginx with session affinity.

    bash run.sh class [N] [--port 8501] [--listen 0.0.0.0] [--run-dir DIR] [-- APP ARGS, e.g. --data-dir DIR]
    .venv/bin/python deploy/classroom.py [same arguments]

Starts N `streamlit run serve.py` (default N = the machine's cores: one Python process holds about one core, the GIL)
on free loopback ports, each its own process, and nginx (deploy/nginx.conf.in) on one port in front of them. Runs
until Ctrl-C or SIGTERM, then stops nginx and every replica (TERM, KILL after 10 s) and exits 0.

Supervision: a process of the set-up that exits is started again, on the same port, after a back-off (1 s, then 2, 4,
8, 16, 30 s at most while it keeps dying young; back to 1 s once it has stayed up STABLE_S seconds). The class never
stops because one process did. Meanwhile nginx sends the dead replica's students to the live ones (passive health:
a refused connection moves a request on to the next replica, see nginx.conf.in); each such student gets a fresh
session there, and the app says so (pages/views/replica.py: every replica knows its own address from GENLIB_REPLICA).
When nginx's master dies, its orphaned worker (which would go on holding the port) is told to quit, then killed, and
a new nginx starts: the browsers reconnect to their replicas and keep their sessions.

Config, pid files (nginx.pid, replica-<i>.pid), logs of nginx, each replica's output (appended across restarts) and
the supervisor's lines (also on stderr) go to the run folder (default a new temporary folder, kept).

The bench (bench/bench_class.py --replicas N) and tests/test_proxy.py use the Classroom class, which supervises in a
thread of its own from start() to stop().
"""
from __future__ import annotations

import argparse
import ctypes
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import urllib.request
from pathlib import Path
from typing import Self

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).resolve().parent / "nginx.conf.in"


def nginx_binary() -> str | None:
    """Debian's nginx: /usr/sbin is not on a plain user's PATH."""
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def upload_limit_mib() -> int:
    """Streamlit's server.maxUploadSize from the app's .streamlit/config.toml (Streamlit's default 200 MiB)."""
    try:
        conf = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError):
        conf = {}
    return int(conf.get("server", {}).get("maxUploadSize", 200))


_PRCTL = ctypes.CDLL(None, use_errno=True).prctl  # looked up here: the child after fork only calls it


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the launcher dies, even by SIGKILL (no stray replicas left behind)."""
    _PRCTL(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


# glibc's malloc gives each busy thread an arena of its own, up to 8 per core, and Streamlit runs every session's
# script in a thread: after a class of 30 left one server, its RSS stayed 46 % above the idle figure with the default,
# 11 % with 2 arenas (bench/CLASS_PROFILE.md). run.sh app sets the same.
MALLOC_ARENA_MAX = "2"


# Supervision. A process that dies young (it keeps crashing at start) waits longer before each new try, doubling from
# the first delay up to the cap; one that has run STABLE_S seconds is restarted after the first delay again.
BACKOFF_S = (1.0, 30.0)
STABLE_S = 60.0
# nginx's workers outlive a master killed by SIGKILL and keep the listening port: they get SIGQUIT (stop accepting,
# close the websockets after worker_shutdown_timeout, 5 s), then SIGKILL this long after
ORPHAN_KILL_S = 8.0
# Passive health of every upstream server in nginx.conf: 3 failed attempts (a refused connection, a timeout, a 503 from
# a replica starting or stopping) within 5 s mark the replica down for 5 s, then nginx tries it again. A dead replica
# on loopback refuses at once, so its share of requests moves on within a page load; a live but busy one is not marked
# down by one slow answer (a page's read timeout is 120 s).
SERVER_PARAMS = "max_fails=3 fail_timeout=5s"


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _status(rc: int | None) -> str:
    """An exit status as a person reads it: 'exit status 1', 'killed by SIGKILL'."""
    if rc is not None and rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit status {rc}"


class _Supervised:
    """One process of the set-up: how to start it, the running Popen, its restart schedule."""

    def __init__(self, name: str, where: str, cmd: list[str], log_name: str, env: dict | None, ready,
                 pid_file: Path | None):
        self.name, self.where, self.cmd, self.log_name = name, where, cmd, log_name
        self.env, self.ready, self.pid_file = env, ready, pid_file
        self.popen: subprocess.Popen | None = None
        self.log = None
        self.started = 0.0                 # time.monotonic() of the last start
        self.delay = BACKOFF_S[0]          # the wait before the next restart
        self.due: float | None = None      # dead, to be started again at this time
        self.died: float | None = None     # dead (or restarted and not yet ready) since this time
        self.restarts = 0


class Classroom:
    """N replicas + nginx, supervised. `with Classroom(2, port=...) as c:` starts them (c.url: the proxy), restarts any
    that dies while the block runs, and stops them after."""

    def __init__(self, replicas: int | None = None, port: int = 8501, listen: str = "0.0.0.0",
                 run_dir: str | os.PathLike | None = None, app_args: list[str] | None = None,
                 env: dict | None = None, say=None):
        self.n = replicas or os.cpu_count() or 1
        self.port, self.listen, self.app_args, self.env = port, listen, app_args or [], env or {}
        self.run_dir = Path(run_dir or tempfile.mkdtemp(prefix="genlib-class-"))
        self.replica_ports: list[int] = []
        self._replicas: list[_Supervised] = []
        self._nginx: _Supervised | None = None
        self._orphans: dict[int, float] = {}  # process group of a dead process -> when to SIGKILL what is left of it
        self._halt = threading.Event()
        self._watcher: threading.Thread | None = None
        self._say_to = say if say is not None else (lambda line: print(line, file=sys.stderr, flush=True))

    # ---- what the users of the set-up read ----
    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.listen in ("0.0.0.0", "*", "") else self.listen
        return f"http://{host}:{self.port}"

    @property
    def upstreams(self) -> list[str]:
        """The replicas' addresses as nginx names them ($upstream_addr, the X-Upstream header, GENLIB_REPLICA)."""
        return [f"127.0.0.1:{p}" for p in self.replica_ports]

    @property
    def replicas(self) -> list[subprocess.Popen]:
        """The replicas' processes now (a restart replaces one)."""
        return [r.popen for r in self._replicas if r.popen is not None]

    @property
    def nginx(self) -> subprocess.Popen | None:
        """nginx's master process now (a restart replaces it)."""
        return self._nginx.popen if self._nginx else None

    @property
    def pids(self) -> list[int]:
        """Every process of the set-up (replicas, then nginx's master; its worker is the master's child)."""
        return [p.pid for p in self.replicas] + ([self.nginx.pid] if self.nginx else [])

    @property
    def supervising(self) -> bool:
        """True while the supervisor thread runs (from start() to stop())."""
        return self._watcher is not None and self._watcher.is_alive()

    def restarts(self) -> dict[str, int]:
        """How many times each process was started again ('replica 0', ..., 'nginx')."""
        return {s.name: s.restarts for s in self._all()}

    def replica_log(self, i: int) -> str:
        return (self.run_dir / f"replica-{i}.log").read_text(errors="replace")

    # ---- start and stop ----
    def _all(self) -> list[_Supervised]:
        return self._replicas + ([self._nginx] if self._nginx else [])

    def _say(self, line: str) -> None:
        """A line of the supervisor: on stderr (or the `say` given) and in the run folder's supervisor.log."""
        line = f"{time.strftime('%H:%M:%S')} {line}"
        with open(self.run_dir / "supervisor.log", "a") as f:
            f.write(line + "\n")
        self._say_to(">> " + line)

    def _spawn(self, s: _Supervised) -> None:
        if s.log is not None:
            s.log.close()
        # the first start truncates the log, a restart appends to it (the crash stays readable above)
        s.log = open(self.run_dir / s.log_name, "ab" if s.popen else "wb")  # noqa: SIM115 - closed by stop()
        if s.popen:
            s.log.write(f"\n---- {time.strftime('%H:%M:%S')} started again by the supervisor ----\n".encode())
            s.log.flush()
        # its own session (process group): the terminal's Ctrl-C reaches only the launcher, which then stops everything
        # in order, and what a dead process leaves behind can be found by its group
        s.popen = subprocess.Popen(s.cmd, cwd=ROOT, stdout=s.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env={**os.environ, **(s.env or {})}, start_new_session=True,
                                   preexec_fn=_die_with_parent)  # noqa: PLW1509 - one libc call, nothing that locks
        s.started = time.monotonic()
        if s.pid_file:
            s.pid_file.write_text(f"{s.popen.pid}\n")

    def render_config(self) -> Path:
        body_mib = upload_limit_mib() + 1  # + the multipart envelope around the file
        servers = "\n".join(f"        server {u} {SERVER_PARAMS};" for u in self.upstreams)
        # per replica, an upstream with that replica first and the others as backups: where a browser whose session
        # lives on that replica goes (the genlib_upstream cookie), and where it goes on when that replica is down
        pools = "\n".join(
            f"    upstream replica_{i} {{\n        server {u} {SERVER_PARAMS};\n"
            + "".join(f"        server {o} backup {SERVER_PARAMS};\n" for o in self.upstreams if o != u) + "    }"
            for i, u in enumerate(self.upstreams))
        pool_map = "\n".join(f'        "{u}" replica_{i};' for i, u in enumerate(self.upstreams))
        text = TEMPLATE.read_text()
        for key, value in (("RUN", str(self.run_dir)), ("SERVERS", servers), ("POOLS", pools), ("POOL_MAP", pool_map),
                           ("LISTEN", f"{self.listen}:{self.port}" if self.listen not in ("*", "") else str(self.port)),
                           ("BODY_MAX", f"{body_mib}m")):
            text = text.replace(f"@{key}@", value)
        left = re.findall(r"@[A-Z_]+@", text)
        assert not left, f"unfilled fields in {TEMPLATE}: {left}"
        conf = self.run_dir / "nginx.conf"
        conf.write_text(text)
        return conf

    def start(self, timeout: float = 180) -> Self:
        nginx = nginx_binary()
        if nginx is None:
            raise FileNotFoundError("nginx is not installed (Debian: apt-get install -y nginx; `bash run.sh class` "
                                    "installs it when it may)")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "tmp").mkdir(exist_ok=True)
        self.replica_ports = [free_port() for _ in range(self.n)]
        # the same cookie secret in every replica (Streamlit's advice for replicas: signed cookies stay valid
        # whichever replica reads them); torch threads split between the replicas instead of each taking every core
        secret = os.environ.get("STREAMLIT_SERVER_COOKIE_SECRET", secrets.token_hex(32))
        env = {"STREAMLIT_SERVER_COOKIE_SECRET": secret,
               "GENLIB_THREADS": os.environ.get("GENLIB_THREADS", str(max(1, (os.cpu_count() or 1) // self.n))),
               "MALLOC_ARENA_MAX": os.environ.get("MALLOC_ARENA_MAX", MALLOC_ARENA_MAX), **self.env}
        try:
            for i, port in enumerate(self.replica_ports):
                cmd = [sys.executable, "-m", "streamlit", "run", "serve.py", "--server.headless", "true",
                       "--server.address", "127.0.0.1", "--server.port", str(port),
                       "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
                # GENLIB_REPLICA: the replica's own address, as nginx names it (pages/views/replica.py compares it
                # with the browser's genlib_upstream cookie)
                s = _Supervised(f"replica {i}", f"127.0.0.1:{port}",
                                cmd + (["--", *self.app_args] if self.app_args else []),
                                f"replica-{i}.log", {**env, "GENLIB_REPLICA": f"127.0.0.1:{port}"},
                                lambda port=port: _healthy(f"http://127.0.0.1:{port}"),
                                self.run_dir / f"replica-{i}.pid")
                self._replicas.append(s)
                self._spawn(s)
            conf = self.render_config()
            nginx_cmd = [nginx, "-p", str(self.run_dir), "-c", str(conf), "-e", str(self.run_dir / "nginx-error.log")]
            check = subprocess.run([*nginx_cmd[:1], "-t", "-q", *nginx_cmd[1:]], capture_output=True, text=True,
                                   check=False)
            if check.returncode:
                raise RuntimeError(f"nginx refused {conf}:\n{check.stderr}")
            deadline = time.monotonic() + timeout
            for i, p in enumerate(self.replica_ports):  # the replicas first: nginx then never answers 502
                while not _healthy(f"http://127.0.0.1:{p}"):
                    if self.replicas[i].poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"replica {i} (port {p}) did not start "
                                           f"(exit status {self.replicas[i].poll()}):\n{self.replica_log(i)[-3000:]}")
                    time.sleep(0.3)
            host = "127.0.0.1" if self.listen in ("0.0.0.0", "*", "") else self.listen
            self._nginx = _Supervised("nginx", f"{host}:{self.port}", nginx_cmd, "nginx.out", None,
                                      lambda: _listening(host, self.port), None)  # nginx writes nginx.pid itself
            self._spawn(self._nginx)
            while not _healthy(self.url):
                if self.nginx.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"nginx did not start on port {self.port} (exit status {self.nginx.poll()}):\n"
                                       + (self.run_dir / "nginx.out").read_text(errors="replace")[-3000:]
                                       + (self.run_dir / "nginx-error.log").read_text(errors="replace")[-3000:])
                time.sleep(0.2)
        except BaseException:
            self.stop()
            raise
        self._halt.clear()
        # a thread of its own, so that `with Classroom(...)` in a test or the bench is supervised too. Linux sends
        # PR_SET_PDEATHSIG when the thread that started a child ends: the processes it restarts get SIGTERM when it
        # ends, which is only in stop(), or with the launcher
        self._watcher = threading.Thread(target=self._watch, name="classroom-supervisor", daemon=True)
        self._watcher.start()
        return self

    def _watch(self) -> None:
        while not self._halt.wait(0.25):
            try:
                self.supervise_once()
            except Exception as e:  # noqa: BLE001 - the supervisor goes on; the next tick tries again
                self._say(f"supervisor: {type(e).__name__}: {e}")

    def supervise_once(self) -> None:
        """One look at every process: a dead one is scheduled for a restart (with back-off), a due one started, a
        restarted one announced once it answers, what dead ones left behind cleaned up."""
        now = time.monotonic()
        for s in self._all():
            if s.popen is None:
                continue
            if s.due is None and s.died is None and s.popen.poll() is not None:
                up = now - s.started
                if up >= STABLE_S:
                    s.delay = BACKOFF_S[0]
                s.died, s.due = now, now + s.delay
                self._say(f"{s.name} ({s.where}) stopped ({_status(s.popen.returncode)}) after {up:.0f} s up; "
                          f"starting it again in {s.delay:g} s")
                s.delay = min(s.delay * 2, BACKOFF_S[1])
                self._orphan(s)
            elif s.due is not None and now >= s.due:
                try:
                    self._spawn(s)
                except OSError as e:
                    s.due = now + s.delay
                    self._say(f"{s.name} could not be started ({e}); trying again in {s.delay:g} s")
                    s.delay = min(s.delay * 2, BACKOFF_S[1])
                    continue
                s.due = None
                s.restarts += 1
            elif s.due is None and s.died is not None and s.popen.poll() is None and s.ready():
                self._say(f"{s.name} ({s.where}) is back: it answers {now - s.died:.1f} s after it stopped")
                s.died = None
            elif s.due is None and s.died is not None and s.popen.poll() is not None:
                s.died = None  # died again before it answered: the first branch schedules it at the next look
        for pgid, kill_at in list(self._orphans.items()):
            try:
                os.killpg(pgid, signal.SIGKILL if now >= kill_at else 0)
                if now < kill_at:
                    continue
            except ProcessLookupError:
                pass  # the group is empty
            except PermissionError:
                pass  # the number now belongs to a process that is not ours: nothing of the group is left
            del self._orphans[pgid]

    def _orphan(self, s: _Supervised) -> None:
        """What a dead process leaves in its process group (its own session, so the group's id is its pid): nginx's
        workers get SIGQUIT (they close the listening port at once, then their connections), a replica's leftovers
        SIGKILL; anything still there ORPHAN_KILL_S later is killed."""
        pgid = s.popen.pid
        try:
            os.killpg(pgid, signal.SIGQUIT if s is self._nginx else signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            return
        self._orphans[pgid] = time.monotonic() + ORPHAN_KILL_S

    def dead(self) -> list[str]:
        """The processes of the set-up that have exited and are not running again yet (named), empty while all run."""
        return [f"{s.name} ({s.where}, {_status(s.popen.returncode)})" for s in self._all()
                if s.popen is not None and s.popen.poll() is not None]

    def reload_proxy(self) -> None:
        """nginx -s reload: new workers; the old ones close their websockets after worker_shutdown_timeout."""
        self.nginx.send_signal(signal.SIGHUP)

    def stop(self) -> None:
        """The supervisor first (nothing restarts), then nginx (no new requests), then the replicas; TERM, then KILL
        after 10 s. Safe to call twice."""
        self._halt.set()
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join()
        procs = [s.popen for s in ([self._nginx] if self._nginx else []) + self._replicas if s.popen is not None]
        for p in procs:
            if p.poll() is None:
                p.terminate()  # nginx: TERM = fast shutdown (it stops its workers); streamlit: TERM = clean stop
        deadline = time.monotonic() + 10
        for p in procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)  # its whole group (not yet reaped: the group id is still its own)
                p.wait()
        for pgid in self._orphans:  # what dead processes left behind and was not gone yet
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self._orphans.clear()
        for s in self._all():
            if s.log is not None:
                s.log.close()
                s.log = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    app_args = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("replicas", type=int, nargs="?", default=os.cpu_count() or 1,
                    help="replicas of the app, one process each (default: the number of cores, here %(default)s)")
    ap.add_argument("--port", type=int, default=8501, help="the port students open (default %(default)s)")
    ap.add_argument("--listen", default="0.0.0.0",
                    help="address nginx listens on (default all: students' machines; 127.0.0.1 for this machine only)")
    ap.add_argument("--run-dir", help="config, pid and logs (default: a new temporary folder, kept after the run)")
    args = ap.parse_args(argv)
    if args.replicas < 1:
        ap.error("replicas must be 1 or more")
    stopping, started = [], False

    def on_signal(signum, _frame):
        stopping.append(signum)
        if not started:  # during the start (up to minutes on a busy machine): stop what has started, now
            raise KeyboardInterrupt

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    c = Classroom(args.replicas, port=args.port, listen=args.listen, run_dir=args.run_dir, app_args=app_args)
    print(f">> starting {c.n} replicas of the app and nginx; logs in {c.run_dir}", file=sys.stderr)
    try:
        c.start()  # stops what it started if it fails or is interrupted
    except (OSError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(">> stopped before the start completed", file=sys.stderr)
        return 130
    started = True
    where = c.url if args.listen not in ("0.0.0.0", "*", "") else f"http://<this machine>:{c.port} (here {c.url})"
    print(f">> the class opens {where}; replicas on {', '.join(c.upstreams)}; a process that stops is started "
          f"again; Ctrl-C stops everything", file=sys.stderr)
    try:
        while not stopping and c.supervising:
            time.sleep(0.5)
    finally:
        broken = not stopping  # the supervisor thread itself ended: nothing would restart anything any more
        c.stop()
    if broken:
        print(f"error: the supervisor stopped; everything is stopped (logs in {c.run_dir})", file=sys.stderr)
        return 1
    print(">> stopped", file=sys.stderr)
    return 0

if __name__ == "__main__":
    sys.exit(main())
