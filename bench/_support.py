"""What the benchmarks share: the machine's description, process CPU and memory from /proc, free ports,
throw-away databases, tables, and this service started exactly as in production (``make serve-prod``).

Nothing here is timed itself; each ``bench_*.py`` script measures and prints its own table.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
# The ports this machine gives the benchmarks.
PORT_RANGE = range(8800, 8900)
DEFAULT_PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/7"
# A well-formed OpenAI project key (the fake upstreams accept anything).
BENCH_OPENAI_KEY = "sk-proj-" + "b" * 40 + "T3BlbkFJ" + "c" * 40


# ---- the machine and the run ---------------------------------------------------------------------


def machine() -> dict[str, str]:
    """What the figures came from: cores, CPU model, memory, kernel, date, and the commit measured."""
    model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem_kb = int(Path("/proc/meminfo").read_text().split("\n", 1)[0].split()[1])
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = " (with uncommitted changes)" if _git("status", "--porcelain", "--untracked-files=no") else ""
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit + dirty,
    }


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def print_machine() -> dict[str, str]:
    info = machine()
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()), flush=True)
    return info


def raise_open_files_limit() -> None:
    """Hundreds of open connections need more descriptors than a shell's default soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536, hard))


def require_tool(name: str, *, hint: str) -> str:
    path = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
    if path is None:
        sys.exit(f"{name} is not installed: {hint}")
    return path


# ---- statistics and tables -----------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of ``values``; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: Iterable[float]) -> float:
    data = [v for v in values if v == v]  # drop NaN
    return statistics.median(data) if data else float("nan")


def fmt(value: float | int | str | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value != value:
        return "n/a"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str = "") -> None:
    cells = [[str(h) for h in headers], *[[c if isinstance(c, str) else fmt(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    if title:
        print(f"\n{title}")
    for index, row in enumerate(cells):
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))))
        if index == 0:
            print("  ".join("-" * w for w in widths))
    sys.stdout.flush()


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "MISS")


def write_json(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str))
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    print(f"\nresults written to {shown}")


# ---- processes: CPU and memory from /proc --------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: the fields start after the last ')'.
    return raw.rsplit(")", 1)[1].split()


def process_tree(root: int) -> list[int]:
    """``root`` and every process below it (gunicorn master and workers, uvicorn's children, …)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        if Path(f"/proc/{pid}").exists():
            tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def cpu_ticks(pids: Iterable[int]) -> dict[int, int]:
    """utime + stime of each process, in clock ticks."""
    ticks = {}
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:
            ticks[pid] = int(fields[11]) + int(fields[12])
    return ticks


def rss_bytes(pids: Iterable[int]) -> int:
    total = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:
            total += int(fields[21]) * PAGE_SIZE
    return total


@dataclass
class CpuMeter:
    """CPU seconds spent by a process tree between ``start()`` and ``stop()`` (processes that exit
    in between lose their share; the benchmarks' servers keep their processes)."""

    root: int
    _before: dict[int, int] = field(default_factory=dict)

    def start(self) -> None:
        self._before = cpu_ticks(process_tree(self.root))

    def stop(self) -> float:
        after = cpu_ticks(process_tree(self.root))
        return sum(t - self._before.get(pid, 0) for pid, t in after.items()) / CLK_TCK


# ---- ports, HTTP -------------------------------------------------------------------------------


def free_ports(count: int, *, start: int | None = None) -> list[int]:
    """``count`` ports free on 127.0.0.1 in the benchmarks' range (from ``start`` if given)."""
    found: list[int] = []
    for port in PORT_RANGE:
        if start is not None and port < start:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        found.append(port)
        if len(found) == count:
            return found
    sys.exit(f"Not enough free ports in {PORT_RANGE.start}-{PORT_RANGE.stop - 1}.")


def http(
    method: str, url: str, *, body: bytes | None = None, headers: dict[str, str] | None = None, timeout: float = 30
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_until_up(url: str, *, process: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{url}: the server exited ({process.returncode}); its log ({log}):\n{tail(log)}")
        try:
            status, _ = http("GET", url, timeout=2)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.25)
    sys.exit(f"{url} did not answer within {timeout:.0f} s; log ({log}):\n{tail(log)}")


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop_group(process: subprocess.Popen[bytes] | None, *, grace: float = 30) -> None:
    """Stop a server started with ``start_new_session`` (its whole process group: make, gunicorn and its
    workers), SIGTERM first."""
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)
    # Workers may outlive the master for a moment: the group goes too.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


# ---- databases ---------------------------------------------------------------------------------


def database_url_named(base: str, name: str) -> str:
    """``base`` (a postgres:// URL) pointed at the database ``name`` on the same server."""
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))


def drop_database(url: str) -> None:
    """Drop a benchmark's own database (PostgreSQL, a name with ``bench``) or delete its SQLite file."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if parts.scheme.startswith("sqlite"):
        Path(parts.path if parts.netloc == "" else "/" + parts.netloc + parts.path).unlink(missing_ok=True)
        return
    if "bench" not in name:
        return
    import psycopg

    admin = urlunsplit((parts.scheme.replace("postgresql", "postgres"), parts.netloc, "/postgres", "", ""))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def reset_database(url: str) -> None:
    """Drop and create the benchmark's own database (PostgreSQL), or delete its SQLite file. Only
    databases whose name says ``bench`` are ever dropped."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if parts.scheme.startswith("sqlite"):
        path = Path(parts.path if parts.netloc == "" else "/" + parts.netloc + parts.path)
        path.unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        return
    if "bench" not in name:
        sys.exit(f"Refusing to drop database '{name}': benchmark databases have 'bench' in their name.")
    import psycopg

    admin = urlunsplit((parts.scheme.replace("postgresql", "postgres"), parts.netloc, "/postgres", "", ""))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def redis_reachable(url: str) -> bool:
    if not url:
        return False
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception:
        return False
    return True


# ---- this service, as in production ------------------------------------------------------------


@dataclass
class Service:
    """This service on its own database, started exactly like production: ``make serve-prod`` with the
    production settings, ``GUNICORN_WORKERS`` workers, rate limits off, the OpenAI provider's base URL
    pointed at a fake upstream (``BYOK_OPENAI_BASE_URL``)."""

    port: int
    database_url: str
    redis_url: str
    workdir: Path
    workers: int = 2
    secret_key: str = field(default_factory=lambda: secrets.token_hex(32))
    master_key: str = field(default_factory=lambda: secrets.token_hex(32))
    process: subprocess.Popen[bytes] | None = None
    token: str = ""

    def env(self, *, upstream: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BYOK_", "DJANGO_", "GUNICORN_", "DATABASE_"))}
        env.pop("REDIS_URL", None)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "config.settings.production",
                "DJANGO_SECRET_KEY": self.secret_key,
                "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
                "DJANGO_SECURE_SSL_REDIRECT": "false",
                "DJANGO_STATIC_ROOT": str(self.workdir / "static"),
                "BYOK_ENCRYPTION_KEY": self.master_key,
                "DATABASE_URL": self.database_url,
                "REDIS_URL": self.redis_url,
                "BYOK_RATE_LIMIT_USER": "off",
                "BYOK_RATE_LIMIT_KEY": "off",
                "BYOK_OPENAI_BASE_URL": upstream,
                "GUNICORN_BIND": f"127.0.0.1:{self.port}",
                "GUNICORN_WORKERS": str(self.workers),
                "PYTHONWARNINGS": "ignore::UserWarning",  # production settings on SQLite (smoke tests) warn
            }
        )
        return env

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def prepare(self) -> str:
        """A fresh database, migrated, with one user, an API token and a stored OpenAI key. Returns the
        token."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "static").mkdir(exist_ok=True)
        reset_database(self.database_url)
        env = self.env(upstream="http://127.0.0.1:1/v1")
        manage = [str(VENV_PYTHON), "manage.py"]
        subprocess.run([*manage, "migrate", "--no-input", "-v0"], cwd=ROOT, env=env, check=True)
        script = (
            "from groups.models import User\n"
            "from byok_keys.services import KeyOwner, api_token_create, provider_credential_parse, "
            "provider_key_store\n"
            "user = User.objects.create_user(username='bench')\n"
            "_, token = api_token_create(user=user, name='bench')\n"
            f"credential = provider_credential_parse(provider='openai', raw={BENCH_OPENAI_KEY!r})\n"
            "provider_key_store(actor=user, owner=KeyOwner(user=user), provider='openai', credential=credential)\n"
            "print('TOKEN', token)\n"
        )
        out = subprocess.run(
            [*manage, "shell", "-c", script], cwd=ROOT, env=env, check=True, capture_output=True, text=True
        ).stdout
        self.token = next(line.split()[1] for line in out.splitlines() if line.startswith("TOKEN "))
        return self.token

    def start(self, *, upstream: str) -> None:
        log = self.workdir / f"serve-prod-{self.port}.log"
        handle = log.open("ab")
        self.process = subprocess.Popen(
            ["make", "--no-print-directory", "serve-prod"],
            cwd=ROOT,
            env=self.env(upstream=upstream),
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until_up(f"{self.url}/healthz", process=self.process, log=log)

    def stop(self) -> None:
        stop_group(self.process)
        self.process = None

    def drop(self) -> None:
        """The database goes when the benchmark ends (the server is stopped first)."""
        self.stop()
        drop_database(self.database_url)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid


def serve_prod_command() -> str:
    """What ``make serve-prod`` runs (as ``make -n`` prints it), for the report."""
    out = subprocess.run(
        ["make", "-n", "--no-print-directory", "serve-prod"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout
    lines = [line for line in out.splitlines() if "gunicorn" in line or "uvicorn" in line]
    return lines[-1].strip() if lines else out.strip().splitlines()[-1] if out.strip() else "?"


# ---- LiteLLM's proxy, in its own virtualenv ----------------------------------------------------

# The newest release whose ``[proxy]`` extra installs from this machine's package index (1.108 and later
# need companion packages it does not carry).
LITELLM_VERSION = "1.106.12"
LITELLM_VENV = VAR / "litellm-venv"


def litellm_install(version: str = LITELLM_VERSION) -> str:
    """Install ``litellm[proxy]==version`` into ``var/litellm-venv`` (once) and return its version."""
    python = LITELLM_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {LITELLM_VENV.relative_to(ROOT)} …", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True)
    installed = _litellm_version(python)
    if installed != version:
        print(f"installing litellm[proxy]=={version} into {LITELLM_VENV.relative_to(ROOT)} (a minute or two) …")
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", f"litellm[proxy]=={version}"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        installed = _litellm_version(python)
    return installed


def _litellm_version(python: Path) -> str:
    if not python.exists():
        return ""
    return subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()


@dataclass
class LiteLLM:
    """LiteLLM's proxy with ``models`` (name → OpenAI-compatible api_base), a master key, no database."""

    port: int
    models: dict[str, str]
    workdir: Path
    workers: int = 2
    master_key: str = "sk-litellm-bench-master"
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "litellm-config.yaml"
        lines = ["model_list:"]
        for name, api_base in self.models.items():
            lines += [
                f"  - model_name: {name}",
                "    litellm_params:",
                "      model: openai/gpt-4o-mini",
                f"      api_base: {api_base}",
                "      api_key: sk-bench-upstream",
            ]
        lines += ["general_settings:", f"  master_key: {self.master_key}"]
        config.write_text("\n".join(lines) + "\n")
        # No database and no Redis: nothing of this service's environment leaks into LiteLLM's.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BYOK_", "DJANGO_", "GUNICORN_", "DATABASE"))}
        env.pop("REDIS_URL", None)
        env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # no download of the model price list at start
        log = self.workdir / f"litellm-{self.port}.log"
        self.process = subprocess.Popen(
            [
                str(LITELLM_VENV / "bin" / "litellm"),
                "--config",
                str(config),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--num_workers",
                str(self.workers),
                # Its workers import for many seconds on a busy machine: uvicorn's default 5 s health
                # check would kill and restart them forever.
                "--timeout_worker_healthcheck",
                "120",
            ],
            cwd=self.workdir,
            env=env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until_up(f"{self.url}/health/liveliness", process=self.process, log=log, timeout=180)

    def stop(self) -> None:
        stop_group(self.process)
        self.process = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid


@contextlib.contextmanager
def running(*servers: Any) -> Iterator[None]:
    """Stop every server on the way out, whatever happened."""
    try:
        yield
    finally:
        for server in reversed(servers):
            with contextlib.suppress(Exception):
                server.stop()
            if isinstance(server, Service):
                with contextlib.suppress(Exception):
                    server.drop()
