"""A private PostgreSQL cluster under the data directory, started from the machine's binaries.

Used when no ``SOC_PG_DSN`` is set, and by the test suite. The cluster listens on
127.0.0.1 only, with a generated password (``scram-sha-256``), and is reused across commands.
When run as root the server runs as the ``postgres`` user (``initdb`` refuses root).
"""

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
from collections.abc import Sequence
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


class EmbeddedPostgres:
    """Create, start, reuse and stop a private cluster in ``root``."""

    def __init__(
        self,
        root: Path,
        port: int,
        bin_dir: str | None = None,
        server_options: Sequence[str] = (),
    ) -> None:
        self.root = root
        self.pgdata = root / "pgdata"
        self.port = port
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

    def running_port(self) -> int | None:
        """The port of the cluster's running postmaster, if it is running."""
        pid_file = self.pgdata / "postmaster.pid"
        if not pid_file.is_file():
            return None
        status = self._run([str(self.bin_dir / "pg_ctl"), "status", "-D", str(self.pgdata)], "")
        if status.returncode != 0:
            return None
        lines = pid_file.read_text().splitlines()
        return int(lines[3]) if len(lines) > 3 else None

    def start(self) -> str:
        """Start the cluster (initialising it first if needed) and return its DSN."""
        self.init()
        port = self.running_port()
        if port is None:
            if not port_is_free(self.port):
                raise ConfigurationError(
                    f"port {self.port} on 127.0.0.1 is taken by another program: set "
                    "SOC_PG_PORT to a free port, or SOC_PG_DSN to use an existing server"
                )
            options = [
                "-c listen_addresses=127.0.0.1",
                f"-p {self.port}",
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
            port = self.port
        self.port = port
        self._ensure_database()
        return self.dsn()

    def dsn(self, dbname: str = DB_NAME) -> str:
        password = self.password_file.read_text().strip()
        return f"postgresql://{DB_USER}:{password}@127.0.0.1:{self.port}/{dbname}"

    def _ensure_database(self) -> None:
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB_NAME)))

    def stop(self) -> None:
        """Stop the cluster (fast shutdown); no error if it is not running."""
        if self.running_port() is None:
            return
        with contextlib.suppress(HotStoreError):
            self._run(
                [str(self.bin_dir / "pg_ctl"), "stop", "-D", str(self.pgdata), "-m", "fast", "-w"],
                "stopping PostgreSQL",
            )
