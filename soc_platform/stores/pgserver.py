"""A private PostgreSQL cluster under the data directory, started from the machine's binaries.

Used when no ``SOC_PG_DSN`` is set, and by the test suite. The cluster listens on
127.0.0.1 only, with a generated password (``scram-sha-256``), and is reused across commands.
Without an explicit port it takes a free one and remembers it in ``<root>/port``, so
several data directories can run side by side.
When run as root the server runs as the ``postgres`` user (``initdb`` refuses root).
"""

import contextlib
import fcntl
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from soc_platform.errors import ConfigurationError, DependencyError, HotStoreError

DB_USER = "soc"
DB_NAME = "soc"


def find_pg_bin_dir(configured: str | None = None) -> Path:
    """Locate initdb/pg_ctl: the configured dir, PATH, pg_config, or Debian's layout."""
    if configured:
        folder = Path(configured)
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
        raise DependencyError(
            f"SOC_PG_BIN_DIR={configured} holds no initdb and pg_ctl: point it at the "
            "PostgreSQL server binaries (e.g. /usr/lib/postgresql/15/bin) or unset it"
        )
    candidates: list[Path] = []
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0:
            candidates.append(Path(out.stdout.strip()))
    debian = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True
    )
    candidates.extend(Path(p) for p in debian)
    for cand in candidates:
        if (cand / "initdb").is_file() and (cand / "pg_ctl").is_file():
            return cand
    raise DependencyError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: install them "
        "(Debian/Ubuntu: apt-get install postgresql), set SOC_PG_BIN_DIR to their folder, "
        "or set SOC_PG_DSN to use an existing server"
    )


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """An unused TCP port on 127.0.0.1 (for throwaway clusters)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: Where an embedded cluster without SOC_PG_PORT looks for a free port first (then upwards).
FIRST_PORT = 54329
PORTS_TRIED = 100


@dataclass(frozen=True)
class ServerState:
    """What ``postmaster.pid`` says about a cluster's server."""

    running: bool
    pid: int | None = None
    port: int | None = None


class EmbeddedPostgres:
    """Create, start, reuse and stop a private cluster in ``root``.

    ``port`` None (the default): the cluster uses the port it used last time
    (``root/port``) when that is free, else the first free one from 54329 upwards, and
    remembers it. A given ``port`` is used as is (a clash is an error).
    """

    def __init__(
        self,
        root: Path,
        port: int | None = None,
        bin_dir: str | None = None,
        server_options: Sequence[str] = (),
    ) -> None:
        self.root = root
        self.pgdata = root / "pgdata"
        self.requested_port = port
        self.port: int | None = port
        self._bin_dir = bin_dir
        self.server_options = tuple(server_options)
        self._as_root = os.geteuid() == 0

    @property
    def bin_dir(self) -> Path:
        return find_pg_bin_dir(self._bin_dir)

    @property
    def password_file(self) -> Path:
        return self.root / "password"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    @property
    def port_file(self) -> Path:
        """The port the cluster last listened on (reused on restart when free)."""
        return self.root / "port"

    def _run(self, args: list[str], what: str) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, object] = {}
        if self._as_root:
            kwargs["user"] = "postgres"
            kwargs["group"] = "postgres"
        proc: subprocess.CompletedProcess[str] = subprocess.run(
            args,
            capture_output=True,
            text=True,
            check=False,
            cwd="/",
            **kwargs,  # type: ignore[call-overload]
        )
        if proc.returncode != 0 and what:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            last = detail[-1] if detail else f"exit code {proc.returncode}"
            raise HotStoreError(f"{what} failed: {last} (see {self.log_file})")
        return proc

    def _chown(self, path: Path) -> None:
        if self._as_root:
            pw = pwd.getpwnam("postgres")
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def initialized(self) -> bool:
        return (self.pgdata / "PG_VERSION").is_file()

    def init(self) -> None:
        """initdb with a generated password; idempotent."""
        if self.initialized():
            return
        bin_dir = self.bin_dir
        self.root.mkdir(parents=True, exist_ok=True)
        self._chown(self.root)
        if self._as_root:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise DependencyError(
                    "running as root needs a 'postgres' system user to own the cluster "
                    "(initdb refuses root): create it, or run as a normal user"
                ) from None
        password = secrets.token_urlsafe(24)
        self.password_file.write_text(password)
        self.password_file.chmod(0o600)
        pwfile = self.root / ".initpw"
        pwfile.write_text(password + "\n")
        self._chown(pwfile)
        try:
            self._run(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(self.pgdata),
                    "-U",
                    DB_USER,
                    f"--pwfile={pwfile}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=peer",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ],
                "initdb",
            )
        except HotStoreError as exc:
            if "Permission denied" in str(exc):
                raise ConfigurationError(
                    f"the 'postgres' user cannot use {self.root} ({exc}): choose a "
                    "SOC_DATA_DIR whose parent folders it can traverse (chmod o+x), "
                    "or set SOC_PG_DSN"
                ) from exc
            raise
        finally:
            pwfile.unlink(missing_ok=True)

    def state(self) -> ServerState:
        """Whether the server runs, with its pid and port (from ``postmaster.pid``; no
        binaries needed)."""
        try:
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
            pid = int(lines[0])
            port = int(lines[3]) if len(lines) > 3 and lines[3].strip() else None
        except (OSError, ValueError, IndexError):
            return ServerState(False)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return ServerState(False)  # a stale pid file (the server was killed)
        except PermissionError:
            pass  # alive, owned by another user
        return ServerState(True, pid, port)

    def running_port(self) -> int | None:
        """The port of the cluster's running postmaster, if it is running."""
        state = self.state()
        return state.port if state.running else None

    def remembered_port(self) -> int | None:
        try:
            port = int(self.port_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return port if 1 <= port <= 65535 else None

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """One process at a time starts (or initialises) the cluster: the Dagster daemon,
        run workers and the command line may all start it at once."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _candidate_ports(self) -> Iterator[int]:
        """Explicit port: that one. Else the remembered port, then free ones from 54329."""
        if self.requested_port is not None:
            if not port_is_free(self.requested_port):
                raise ConfigurationError(
                    f"port {self.requested_port} on 127.0.0.1 is taken by another program: "
                    "set SOC_PG_PORT to a free port (or unset it: a free one is chosen), "
                    "or SOC_PG_DSN to use an existing server"
                )
            yield self.requested_port
            return
        remembered = self.remembered_port()
        if remembered is not None and port_is_free(remembered):
            yield remembered
        for port in range(FIRST_PORT, FIRST_PORT + PORTS_TRIED):
            if port != remembered and port_is_free(port):
                yield port
        yield free_port()

    def start(self) -> str:
        """Start the cluster (initialising it first if needed) and return its DSN."""
        with self._lock():
            self.init()
            port = self.running_port()
            if port is None:
                port = self._start_server()
            self.port = port
            if self.remembered_port() != port:
                self.port_file.write_text(f"{port}\n")
            self._ensure_database()
        return self.dsn()

    def _start_server(self) -> int:
        attempts = 0
        for port in self._candidate_ports():
            attempts += 1
            try:
                self._pg_ctl_start(port)
            except HotStoreError:
                # another program took the port between our check and the server's bind
                if self.requested_port is None and not port_is_free(port) and attempts < 5:
                    continue
                raise
            return port
        raise HotStoreError("no free TCP port on 127.0.0.1 for the embedded PostgreSQL")

    def _pg_ctl_start(self, port: int) -> None:
        options = [
            "-c listen_addresses=127.0.0.1",
            f"-p {port}",
            f"-k {self.pgdata}",
            *self.server_options,
        ]
        if self._as_root and not self.log_file.exists():
            self.log_file.touch()
            self._chown(self.log_file)
        self._run(
            [
                str(self.bin_dir / "pg_ctl"),
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                str(self.pgdata),
                "-l",
                str(self.log_file),
                "-o",
                " ".join(options),
            ],
            "starting PostgreSQL",
        )

    def dsn(self, dbname: str = DB_NAME) -> str:
        port = self.port or self.running_port()
        if port is None:
            raise HotStoreError(f"the embedded PostgreSQL in {self.root} is not running")
        password = self.password_file.read_text().strip()
        return f"postgresql://{DB_USER}:{password}@127.0.0.1:{port}/{dbname}"

    def _ensure_database(self) -> None:
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB_NAME)))

    def stop(self) -> ServerState:
        """Stop the cluster (fast shutdown); no error if it is not running. Returns the
        state it was in."""
        state = self.state()
        if not state.running:
            return state
        with contextlib.suppress(HotStoreError):
            self._run(
                [str(self.bin_dir / "pg_ctl"), "stop", "-D", str(self.pgdata), "-m", "fast", "-w"],
                "stopping PostgreSQL",
            )
        return state
