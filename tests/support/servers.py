"""Real servers for integration tests, each on 127.0.0.1 and a free port (under pytest-xdist, from the worker's
own range: `free_port`).

PostgreSQL, Prometheus, Alertmanager and moto run as child processes whose logs stay
in their work directory; they are stopped by PID (terminate, then kill). A missing
binary skips the test with an install hint, or fails it when CI=true.
"""

from __future__ import annotations

import glob
import itertools
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any, NoReturn, Self, TypeVar
from urllib.parse import urlsplit

import psycopg
import pytest
import requests
import yaml
from psycopg import sql

from tests.support.loopback import LOOPBACK, ContextManaged, LoopbackHTTPServer, QuietHandler, send_bytes
from tests.support.waiting import WaitTimeout, wait_until

APT_INSTALL = "apt-get install -y --no-install-recommends"
STOP_TIMEOUT = 10.0
T = TypeVar("T")


# --------------------------------------------------------------------------- helpers


# Ports handed out by free_port under pytest-xdist: below the kernel's ephemeral range (32768-60999 by default), so
# neither the kernel's own choice of a free port (bind to port 0) nor an outgoing connection lands on one, and split
# between the workers. A port is free when asked but bound seconds later (a bot's imports come first): picked by the
# kernel, another worker could be handed the same port meanwhile.
WORKER_PORTS = range(20000, 32768)
_worker_ports: Iterator[int] | None = None
_worker_ports_lock = threading.Lock()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now; under pytest-xdist, one of this worker's own."""
    global _worker_ports
    with _worker_ports_lock:
        if _worker_ports is None:
            _worker_ports = worker_port_cycle(os.environ.get("PYTEST_XDIST_WORKER", ""),
                                              os.environ.get("PYTEST_XDIST_WORKER_COUNT", ""), _ephemeral_ports())
        for port in itertools.islice(_worker_ports, 200):
            if _can_bind(port):
                return port
    return _any_free_port()


def worker_port_cycle(worker: str, count: str, ephemeral: range) -> Iterator[int]:
    """Worker `gwN` of `count`: its slice of WORKER_PORTS, round and round from a random point (two runs at once on
    one machine rarely meet). Empty outside xdist, or when the kernel's ephemeral range overlaps WORKER_PORTS."""
    if not (worker.startswith("gw") and worker[2:].isdigit() and count.isdigit() and int(count) > 0):
        return iter(())
    if ephemeral.start < WORKER_PORTS.stop and WORKER_PORTS.start < ephemeral.stop:
        return iter(())
    size = len(WORKER_PORTS) // int(count)
    if size == 0:
        return iter(())
    first = WORKER_PORTS.start + int(worker[2:]) % int(count) * size
    start = random.randrange(size)
    return itertools.cycle([*range(first + start, first + size), *range(first, first + start)])


def _ephemeral_ports() -> range:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return range(int(low), int(high) + 1)
    except (OSError, ValueError):
        return range(1024, 65536)  # unknown: assume it covers everything, and let the kernel choose


def _can_bind(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def _any_free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def missing_dependency(reason: str) -> NoReturn:
    """Skip the current test, or fail it under CI=true where everything must be installed."""
    if running_in_ci():
        pytest.fail(f"{reason} (CI=true, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


def find_executable(path_or_name: str) -> str | None:
    if os.sep in path_or_name:
        return path_or_name if os.access(path_or_name, os.X_OK) else None
    return shutil.which(path_or_name)


def require_binary(path_or_name: str, install_hint: str) -> str:
    """Absolute path of an executable; skips (or fails under CI=true) naming how to install it."""
    found = find_executable(path_or_name)
    if found is None:
        missing_dependency(f"{path_or_name} not found; install it with: {install_hint}")
    return found


def http_ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def pid_alive(pid: int) -> bool:
    """True while `pid` runs (a zombie counts as gone, in case nobody reaps it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_pid(pid: int, first_signal: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> None:
    """Send `first_signal`, wait up to `timeout`, then SIGKILL."""
    for sig in (first_signal, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        with suppress(WaitTimeout):
            wait_until(lambda: not pid_alive(pid), timeout, message=f"pid {pid} to exit after signal {sig}")
            return


class ManagedProcess:
    """A child process with stdout and stderr in a log file."""

    def __init__(self, argv: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None) -> None:
        self.argv = [str(arg) for arg in argv]
        self.log_path = log_path
        self._log = log_path.open("ab")
        self._popen = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=log_path.parent,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        return self._popen.poll()

    def alive(self) -> bool:
        return self._popen.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        self._popen.terminate()
        try:
            self._popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self._popen.kill()
            self._popen.wait(timeout)
        self._log.close()


class HTTPServerProcess(ContextManaged):
    """Base for servers that are one child process answering HTTP on `url`."""

    name = "server"
    ready_path = "/"
    start_timeout = 30.0

    def __init__(self, base_dir: Path | str | None = None) -> None:
        self.base_dir = Path(base_dir) if base_dir is not None else Path(tempfile.mkdtemp(prefix="servers-"))
        self.work_dir: Path | None = None
        self.port = 0
        self.process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        """Base URL without a trailing slash."""
        return f"http://{LOOPBACK}:{self.port}"

    def argv(self, binary: str) -> list[str]:
        raise NotImplementedError

    def binary(self) -> str:
        raise NotImplementedError

    def env(self) -> dict[str, str] | None:
        return None

    def prepare(self, work_dir: Path) -> None:
        """Write configuration files before the process starts."""

    def start(self) -> Self:
        binary = self.binary()
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.work_dir = Path(tempfile.mkdtemp(prefix=f"{self.name}-", dir=self.base_dir))
        self.port = free_port()
        self.prepare(self.work_dir)
        self.process = ManagedProcess(self.argv(binary), self.work_dir / f"{self.name}.log", self.env())
        try:
            self._wait_ready(lambda: http_ok(self.url + self.ready_path), self.start_timeout,
                             f"{self.name} to answer {self.ready_path}")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    def _wait_ready(self, check: Callable[[], T], timeout: float, what: str, interval: float = 0.05) -> T:
        """wait_until `check`, failing at once with the log tail if the process dies, and with it on timeout."""
        process = self.process
        assert process is not None

        def alive_and_ready() -> T:
            if not process.alive():
                raise RuntimeError(f"{what}: process exited with {process.returncode}\n{process.log_tail()}")
            return check()

        return wait_until(alive_and_ready, timeout, interval=interval, message=lambda: f"{what}\n{process.log_tail()}")


# --------------------------------------------------------------------------- PostgreSQL


def postgres_bin_dir() -> Path | None:
    """Newest /usr/lib/postgresql/<version>/bin that has initdb, if any."""
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if not found:
        return None
    newest = max(found, key=lambda p: int(re.sub(r"\D", "", Path(p).parents[1].name) or 0))
    return Path(newest).parent


class PostgresServer(ContextManaged):
    """A throwaway PostgreSQL cluster: trust auth, user `test`, fsync off.

    As root, initdb and postgres run as the `postgres` user (initdb refuses root). If that
    user cannot reach `base_dir` (pytest's temp dirs are 0700), the cluster lives in a
    directory under the system temp dir and its log is copied into `base_dir` on stop.
    """

    user = "test"

    def __init__(self, base_dir: Path | str) -> None:
        self.base_dir = Path(base_dir)
        self.port = 0
        self.pg_dir: Path | None = None

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the `postgres` database."""
        return self.url_for("postgres")

    def url_for(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}@{LOOPBACK}:{self.port}/{database}"

    def conninfo(self, database: str = "postgres") -> str:
        """libpq connection string, for psycopg.connect()."""
        return f"host={LOOPBACK} port={self.port} user={self.user} dbname={database}"

    def start(self) -> Self:
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            missing_dependency(
                f"/usr/lib/postgresql/*/bin/initdb not found; install it with: {APT_INSTALL} postgresql"
            )
        self.pg_dir = self._make_pg_dir()
        self.port = free_port()
        try:
            self._initdb(bin_dir)
            self._pg_ctl_start(bin_dir)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.pg_dir is None:
            return
        pid = self._postmaster_pid()
        if pid is not None:
            # SIGINT is PostgreSQL's "fast" shutdown; SIGTERM would wait for open sessions.
            stop_pid(pid, signal.SIGINT)
        self._keep_log_and_cleanup()
        self.pg_dir = None

    def create_database(self, name: str) -> str:
        """CREATE DATABASE `name`; returns its SQLAlchemy URL."""
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    @property
    def log_path(self) -> Path:
        assert self.pg_dir is not None
        return self.pg_dir / "postgres.log"

    def _make_pg_dir(self) -> Path:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        parent = self.base_dir if _postgres_user_can_reach(self.base_dir) else Path(tempfile.gettempdir())
        pg_dir = Path(tempfile.mkdtemp(prefix="pg-", dir=parent))
        if os.geteuid() == 0:
            shutil.chown(pg_dir, "postgres", "postgres")
        return pg_dir

    def _initdb(self, bin_dir: Path) -> None:
        assert self.pg_dir is not None
        self._run_as_postgres(
            bin_dir / "initdb",
            "-D", self.pg_dir / "data", "-U", self.user, "--auth=trust", "--no-sync",
            "-E", "UTF8", "--locale=C",
        )  # fmt: skip

    def _pg_ctl_start(self, bin_dir: Path) -> None:
        assert self.pg_dir is not None
        options = f"-h {LOOPBACK} -p {self.port} -k {self.pg_dir} -c fsync=off"
        self._run_as_postgres(
            bin_dir / "pg_ctl",
            "-D", self.pg_dir / "data", "-l", self.log_path, "-w", "-t", "60", "-o", options, "start",
        )  # fmt: skip

    def _run_as_postgres(self, *argv: str | Path) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        command = prefix + [str(arg) for arg in argv]
        done = subprocess.run(command, cwd=self.pg_dir, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}\n{log}")

    def _postmaster_pid(self) -> int | None:
        assert self.pg_dir is not None
        pid_file = self.pg_dir / "data" / "postmaster.pid"
        try:
            return int(pid_file.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None

    def _keep_log_and_cleanup(self) -> None:
        assert self.pg_dir is not None
        if self.pg_dir.parent == self.base_dir:
            return
        if self.log_path.exists():
            shutil.copy(self.log_path, self.base_dir / f"{self.pg_dir.name}.log")
        shutil.rmtree(self.pg_dir, ignore_errors=True)


def _postgres_user_can_reach(directory: Path) -> bool:
    if os.geteuid() != 0:
        return True
    probe = ["runuser", "-u", "postgres", "--", "test", "-x", str(directory)]
    return subprocess.run(probe, capture_output=True, cwd="/").returncode == 0


# --------------------------------------------------------------------------- Prometheus


class PrometheusServer(HTTPServerProcess):
    """Prometheus with the lifecycle API on, alerts resent every second.

    `seed`, if given, fills the (empty) data directory before the server starts, e.g. with blocks
    made by `promtool tsdb create-blocks-from` (tests/support/dcgm.py).
    """

    name = "prometheus"
    ready_path = "/-/ready"

    def __init__(self, base_dir: Path | str, config_yaml: str, extra_args: Sequence[str] = (),
                 seed: Callable[[Path], None] | None = None) -> None:
        super().__init__(base_dir)
        self.config_yaml = config_yaml
        self.extra_args = list(extra_args)
        self.seed = seed

    def binary(self) -> str:
        return require_binary("prometheus", f"{APT_INSTALL} prometheus")

    def prepare(self, work_dir: Path) -> None:
        (work_dir / "prometheus.yml").write_text(self.config_yaml)
        if self.seed is not None:
            self.seed(work_dir / "data")

    def argv(self, binary: str) -> list[str]:
        assert self.work_dir is not None
        args = [
            binary,
            f"--config.file={self.work_dir / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.work_dir / 'data'}",
            f"--web.listen-address={LOOPBACK}:{self.port}",
            "--web.enable-lifecycle",
        ]
        if not any(arg.startswith("--rules.alert.resend-delay") for arg in self.extra_args):
            args.append("--rules.alert.resend-delay=1s")
        return args + self.extra_args

    def reload(self, config_yaml: str | None = None) -> None:
        """Optionally rewrite the config, then POST /-/reload."""
        assert self.work_dir is not None
        if config_yaml is not None:
            self.config_yaml = config_yaml
            (self.work_dir / "prometheus.yml").write_text(config_yaml)
        requests.post(f"{self.url}/-/reload", timeout=10).raise_for_status()

    def query(self, promql: str) -> list[Any]:
        """Instant query; returns `data.result`."""
        response = requests.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=10)
        response.raise_for_status()
        return response.json()["data"]["result"]

    def wait_for_query(self, promql: str, timeout: float = 30.0) -> list[Any]:
        """Poll an instant query until it returns data (the first scrape takes ~5 s)."""
        return self._wait_ready(lambda: self.query(promql), timeout, f"prometheus query {promql!r}", interval=0.25)


def prometheus_config_for(
    targets: Iterable[str],
    alertmanager_url: str | None = None,
    rule_files: Iterable[str | Path] = (),
) -> str:
    """Prometheus YAML scraping `targets` (host:port) every second, job name `dcgm`."""
    config: dict[str, Any] = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": "dcgm", "static_configs": [{"targets": list(targets)}]}],
    }
    rules = [str(path) for path in rule_files]
    if rules:
        config["rule_files"] = rules
    if alertmanager_url:
        config["alerting"] = {
            "alertmanagers": [{"static_configs": [{"targets": [_host_port(alertmanager_url)]}]}]
        }
    return yaml.safe_dump(config, sort_keys=False)


def _host_port(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc or url


# --------------------------------------------------------------------------- Alertmanager


class AlertmanagerServer(HTTPServerProcess):
    """Alertmanager without clustering (an empty cluster address binds nothing)."""

    name = "alertmanager"
    ready_path = "/-/ready"
    binary_candidates = ("/usr/bin/prometheus-alertmanager", "prometheus-alertmanager", "alertmanager")

    def __init__(self, base_dir: Path | str, config_yaml: str) -> None:
        super().__init__(base_dir)
        self.config_yaml = config_yaml

    def binary(self) -> str:
        for candidate in self.binary_candidates:
            found = find_executable(candidate)
            if found:
                return found
        return require_binary(self.binary_candidates[0], f"{APT_INSTALL} prometheus-alertmanager")

    def prepare(self, work_dir: Path) -> None:
        (work_dir / "alertmanager.yml").write_text(self.config_yaml)

    def argv(self, binary: str) -> list[str]:
        assert self.work_dir is not None
        return [
            binary,
            f"--config.file={self.work_dir / 'alertmanager.yml'}",
            f"--storage.path={self.work_dir / 'data'}",
            f"--web.listen-address={LOOPBACK}:{self.port}",
            "--cluster.listen-address=",
        ]

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        """POST /api/v2/alerts (labels, annotations, startsAt, endsAt, generatorURL)."""
        requests.post(f"{self.url}/api/v2/alerts", json=alerts, timeout=10).raise_for_status()

    def alerts(self) -> list[dict[str, Any]]:
        response = requests.get(f"{self.url}/api/v2/alerts", timeout=10)
        response.raise_for_status()
        return response.json()


def alertmanager_config_for(
    webhook_url: str,
    group_by: Sequence[str] = ("alertname",),
    group_interval: str = "1s",
    repeat_interval: str = "1h",
) -> str:
    """Alertmanager YAML sending every alert at once to one webhook, resolves included."""
    config = {
        "route": {
            "receiver": "webhook",
            "group_by": list(group_by),
            "group_wait": "0s",
            "group_interval": group_interval,
            "repeat_interval": repeat_interval,
        },
        "receivers": [
            {"name": "webhook", "webhook_configs": [{"url": webhook_url, "send_resolved": True}]},
        ],
    }
    return yaml.safe_dump(config, sort_keys=False)


# --------------------------------------------------------------------------- moto (AWS)


class MotoServer(HTTPServerProcess):
    """moto_server (EC2, EBS, Cost Explorer, ...) without its ~1,300 built-in AMIs/snapshots."""

    name = "moto"
    region = "us-east-1"

    def binary(self) -> str:
        beside_python = Path(sys.executable).parent / "moto_server"
        if os.access(beside_python, os.X_OK):
            return str(beside_python)
        return require_binary("moto_server", "pip install 'moto[server]'")

    def argv(self, binary: str) -> list[str]:
        return [binary, "-H", LOOPBACK, "-p", str(self.port)]

    def env(self) -> dict[str, str]:
        return {**os.environ, "MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}

    def reset(self) -> None:
        """Forget every resource and queued answer."""
        requests.post(f"{self.url}/moto-api/reset", timeout=10).raise_for_status()

    def queue_cost_results(self, results: list[dict[str, Any]]) -> None:
        """Queue GetCostAndUsage responses; each new distinct request takes the next one."""
        url = f"{self.url}/moto-api/static/ce/cost-and-usage-results"
        requests.post(url, json={"results": results}, timeout=10).raise_for_status()

    def aws_env(self) -> dict[str, str]:
        """Environment that points boto3 at this server with dummy credentials."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": self.region,
        }

    def boto3_client(self, service_name: str) -> Any:
        """A boto3 client for this server, independent of the environment."""
        import boto3

        return boto3.client(
            service_name,
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


# --------------------------------------------------------------------------- fake DCGM exporter


def dcgm_line(
    metric: str,
    value: float,
    gpu: str = "0",
    hostname: str = "node-1",
    model: str = "NVIDIA H100 80GB HBM3",
    **labels: str,
) -> str:
    """One exposition line shaped like dcgm-exporter's, e.g. dcgm_line("DCGM_FI_DEV_GPU_UTIL", 87)."""
    all_labels = {"gpu": gpu, "UUID": f"GPU-{hostname}-{gpu}", "Hostname": hostname, "modelName": model}
    all_labels.update(labels)
    rendered = ",".join(f'{key}="{_escape_label(val)}"' for key, val in all_labels.items())
    return f"{metric}{{{rendered}}} {value:g}"


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class _MetricsHandler(QuietHandler):
    def do_GET(self) -> None:
        owner: FakeDcgmExporter = self.server.owner  # type: ignore[attr-defined]
        if self.path.split("?")[0] != "/metrics":
            send_bytes(self, 404, b"not found\n", "text/plain")
            return
        owner.scrapes += 1
        body = "".join(f"{line}\n" for line in owner.lines).encode()
        send_bytes(self, 200, body, "text/plain; version=0.0.4; charset=utf-8")


class FakeDcgmExporter(LoopbackHTTPServer):
    """Serves the test's exposition lines at /metrics; change them any time with set_lines()."""

    def __init__(self, lines: Iterable[str] = ()) -> None:
        super().__init__(_MetricsHandler)
        self._lock = threading.Lock()
        self._lines: tuple[str, ...] = tuple(lines)
        self.scrapes = 0

    @property
    def lines(self) -> tuple[str, ...]:
        with self._lock:
            return self._lines

    def set_lines(self, lines: Iterable[str]) -> None:
        with self._lock:
            self._lines = tuple(lines)

    @property
    def target(self) -> str:
        """host:port for a Prometheus static_configs target."""
        return f"{LOOPBACK}:{self.port}"
