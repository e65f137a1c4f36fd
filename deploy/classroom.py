"""A class past one process: N replicas of the app behind Debian's nginx with session affinity (issue 13).

    bash run.sh class [N] [--port 8501] [--listen 0.0.0.0] [--run-dir DIR] [-- APP ARGS, e.g. --data-dir DIR]
    .venv/bin/python deploy/classroom.py [same arguments]

Starts N `streamlit run app.py` (default N = the machine's cores: one Python process holds about one core, the GIL)
on free loopback ports, each its own process, and nginx (deploy/nginx.conf.in) on one port in front of them. Runs
until Ctrl-C or SIGTERM, then stops nginx and every replica; if one of them dies, stops the others and exits 1.
Config, pid, logs of nginx and each replica's output go to the run folder (default a new temporary folder, kept).

The bench (bench/bench_class.py --replicas N) and tests/test_proxy.py use the Classroom class.
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


class Classroom:
    """N replicas + nginx. `with Classroom(2, port=...) as c:` starts them (c.url: the proxy) and stops them after."""

    def __init__(self, replicas: int | None = None, port: int = 8501, listen: str = "0.0.0.0",
                 run_dir: str | os.PathLike | None = None, app_args: list[str] | None = None,
                 env: dict | None = None):
        self.n = replicas or os.cpu_count() or 1
        self.port, self.listen, self.app_args, self.env = port, listen, app_args or [], env or {}
        self.run_dir = Path(run_dir or tempfile.mkdtemp(prefix="genlib-class-"))
        self.replica_ports: list[int] = []
        self.replicas: list[subprocess.Popen] = []
        self.nginx: subprocess.Popen | None = None
        self._logs: list = []

    # ---- what the users of the set-up read ----
    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.listen in ("0.0.0.0", "*", "") else self.listen
        return f"http://{host}:{self.port}"

    @property
    def upstreams(self) -> list[str]:
        """The replicas' addresses as nginx names them ($upstream_addr, the X-Upstream header)."""
        return [f"127.0.0.1:{p}" for p in self.replica_ports]

    @property
    def pids(self) -> list[int]:
        """Every process of the set-up (replicas, then nginx's master; its worker is the master's child)."""
        return [p.pid for p in self.replicas] + ([self.nginx.pid] if self.nginx else [])

    def replica_log(self, i: int) -> str:
        return (self.run_dir / f"replica-{i}.log").read_text(errors="replace")

    # ---- start and stop ----
    def _spawn(self, cmd: list[str], log_name: str, env: dict | None = None) -> subprocess.Popen:
        log = open(self.run_dir / log_name, "wb")  # noqa: SIM115 - open as long as the process runs; closed by stop()
        self._logs.append(log)
        # its own session: the terminal's Ctrl-C reaches only the launcher, which then stops everything in order
        return subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, **(env or {})}, start_new_session=True,
                                preexec_fn=_die_with_parent)  # noqa: PLW1509 - one libc call, nothing that locks

    def render_config(self) -> Path:
        body_mib = upload_limit_mib() + 1  # + the multipart envelope around the file
        servers = "\n".join(f"        server {u} max_fails=0;" for u in self.upstreams)
        # max_fails=0: a slow replica (busy minutes under load) is never marked down, which would move its
        # students to another replica and lose their sessions; a dead one is the launcher's business
        text = TEMPLATE.read_text()
        for key, value in (("RUN", str(self.run_dir)), ("SERVERS", servers),
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
                cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                       "--server.address", "127.0.0.1", "--server.port", str(port),
                       "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
                self.replicas.append(self._spawn(cmd + (["--", *self.app_args] if self.app_args else []),
                                                 f"replica-{i}.log", env))
            conf = self.render_config()
            check = subprocess.run([nginx, "-t", "-q", "-p", str(self.run_dir), "-c", str(conf), "-e",
                                    str(self.run_dir / "nginx-error.log")], capture_output=True, text=True, check=False)
            if check.returncode:
                raise RuntimeError(f"nginx refused {conf}:\n{check.stderr}")
            deadline = time.monotonic() + timeout
            for i, p in enumerate(self.replica_ports):  # the replicas first: nginx then never answers 502
                while not _healthy(f"http://127.0.0.1:{p}"):
                    if self.replicas[i].poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"replica {i} (port {p}) did not start "
                                           f"(exit status {self.replicas[i].poll()}):\n{self.replica_log(i)[-3000:]}")
                    time.sleep(0.3)
            self.nginx = self._spawn([nginx, "-p", str(self.run_dir), "-c", str(conf), "-e",
                                      str(self.run_dir / "nginx-error.log")], "nginx.out")
            while not _healthy(self.url):
                if self.nginx.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"nginx did not start on port {self.port} (exit status {self.nginx.poll()}):\n"
                                       + (self.run_dir / "nginx.out").read_text(errors="replace")[-3000:]
                                       + (self.run_dir / "nginx-error.log").read_text(errors="replace")[-3000:])
                time.sleep(0.2)
        except BaseException:
            self.stop()
            raise
        return self

    def dead(self) -> list[str]:
        """The processes of the set-up that have exited (named), empty while all run."""
        named = [(f"replica {i}", p) for i, p in enumerate(self.replicas)]
        named += [("nginx", self.nginx)] if self.nginx else []
        return [f"{name} (exit status {p.returncode})" for name, p in named if p.poll() is not None]

    def reload_proxy(self) -> None:
        """nginx -s reload: new workers; the old ones close their websockets after worker_shutdown_timeout."""
        self.nginx.send_signal(signal.SIGHUP)

    def stop(self) -> None:
        """nginx first (no new requests), then the replicas; TERM, then KILL after 10 s. Safe to call twice."""
        procs = ([self.nginx] if self.nginx else []) + self.replicas
        for p in procs:
            if p.poll() is None:
                p.terminate()  # nginx: TERM = fast shutdown; streamlit: TERM = clean stop
        deadline = time.monotonic() + 10
        for p in procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for log in self._logs:
            log.close()
        self._logs = []

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
    print(f">> the class opens {where}; replicas on {', '.join(c.upstreams)}; Ctrl-C stops everything",
          file=sys.stderr)
    try:
        while not stopping and not c.dead():
            time.sleep(0.5)
    finally:
        dead = c.dead()
        c.stop()
    if dead and not stopping:
        print(f"error: {', '.join(dead)} stopped; everything is stopped (logs in {c.run_dir})", file=sys.stderr)
        return 1
    print(">> stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
