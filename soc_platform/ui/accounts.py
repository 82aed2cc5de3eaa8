"""UI users and sessions in the hot store's database (tables of migration 0008_ui)."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from soc_platform import sql
from soc_platform.ui.auth import (
    AuthError,
    check_name,
    check_password,
    check_role,
    hash_password,
    new_token,
    token_hash,
    verify_password,
)

SESSION_TTL = timedelta(hours=12)
#: a hash to compare against when the user does not exist (same time as a wrong password)
_DUMMY = hash_password("not a password of anyone")


@dataclass(frozen=True)
class User:
    name: str
    role: str
    created_at: datetime | None = None
    #: open sessions, and when the newest began (the last sign-in still on record)
    sessions: int = 0
    last_login: datetime | None = None


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str


class Accounts:
    """Users and sessions over connections from ``connect`` (``HotStore.connect``)."""

    def __init__(self, connect: Any) -> None:
        self.connect = connect

    def _rows(self, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        with self.connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(sql.query(name), params)
            return list(cur.fetchall()) if cur.description else []

    def add(self, name: str, role: str, password: str) -> None:
        check_name(name)
        check_role(role)
        check_password(password)
        try:
            self._rows(
                "ui_add_user",
                {"name": name, "role": role, "password_hash": hash_password(password)},
            )
        except psycopg.errors.UniqueViolation:
            raise AuthError(
                f"user {name!r} exists (soc-platform users passwd or users remove)"
            ) from None

    def list(self) -> list[User]:
        return [
            User(r["name"], r["role"], r["created_at"], r["sessions"], r["last_login"])
            for r in self._rows("ui_users", {})
        ]

    def remove(self, name: str, *, actor: str | None = None) -> None:
        """Remove ``name`` and end its sessions. With ``actor`` (an admin in the UI): not
        the actor itself, and not the last admin. The command line (an operator with the
        database's credentials) passes none: it may remove anyone, to recover a lost UI."""
        if actor is not None and name == actor:
            raise AuthError("you cannot remove yourself: another admin can")
        self._guarded("ui_remove_user", {"name": name}, actor, demotes=True)

    def set_role(self, name: str, role: str, *, actor: str | None = None) -> None:
        """Give ``name`` the role ``role`` (its sessions keep going, with the new role).
        With ``actor``: the last admin keeps the admin role."""
        check_role(role)
        self._guarded("ui_set_role", {"name": name, "role": role}, actor, demotes=role != "admin")

    def _guarded(
        self, query: str, params: dict[str, Any], actor: str | None, demotes: bool
    ) -> None:
        """Run ``query`` on one user; when it takes an admin away (``demotes``) on behalf of
        ``actor``, refuse to leave no admin (the admins are locked meanwhile)."""
        name = params["name"]
        with self.connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(sql.query("ui_lock_admins"))
            admins = [r["name"] for r in cur.fetchall()]
            if actor is not None and demotes and admins == [name]:
                raise AuthError(f"{name!r} is the last admin: make another user admin first")
            cur.execute(sql.query(query), params)
            if not cur.fetchall():
                raise AuthError(f"no user {name!r} (soc-platform users list shows them)")

    def passwd(self, name: str, password: str, role: str | None = None) -> None:
        check_password(password)
        if role is not None:
            check_role(role)
        found = self._rows(
            "ui_set_password",
            {"name": name, "password_hash": hash_password(password), "role": role},
        )
        if not found:
            raise AuthError(f"no user {name!r} (soc-platform users list shows them)")

    def login(self, name: str, password: str) -> tuple[str, Session] | None:
        """A new session (its cookie token and the session) or None for wrong credentials."""
        rows = self._rows("ui_user", {"name": name})
        stored = rows[0]["password_hash"] if rows else _DUMMY
        if not verify_password(password, stored) or not rows:
            return None
        token, csrf = new_token(), new_token()
        self._rows(
            "ui_add_session",
            {"token_hash": token_hash(token), "user_name": name, "csrf": csrf, "ttl": SESSION_TTL},
        )
        return token, Session(User(name, rows[0]["role"]), csrf)

    def session(self, token: str) -> Session | None:
        if not token:
            return None
        rows = self._rows("ui_session", {"token_hash": token_hash(token)})
        if not rows:
            return None
        r = rows[0]
        return Session(User(r["name"], r["role"]), r["csrf_token"])

    def logout(self, token: str) -> None:
        self._rows("ui_remove_session", {"token_hash": token_hash(token)})
