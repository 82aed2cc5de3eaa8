"""The user-admin page (/admin/users) on a real uvicorn server over a real PostgreSQL:
admins only, every change CSRF-checked, the accounts' rules (the ``users`` command's), the
last admin and self-removal refused, and a removed or reset user's session ended."""

import re
import threading
import time
import urllib.parse
from collections.abc import Iterator

import psycopg
import pytest

from soc_platform.hot.store import HotPolicy, HotStore
from soc_platform.ui.accounts import Accounts
from soc_platform.ui.auth import AuthError
from tests.integration.test_ui import PASSWORD, Client, Server, csrf_of


@pytest.fixture
def admin_ui(pg_dsn: str) -> Iterator[tuple[Server, Accounts]]:
    hot = HotStore(pg_dsn, policy=HotPolicy(retention_days=0))
    hot.setup()
    accounts = Accounts(hot.connect)
    accounts.add("ada", "admin", PASSWORD)
    accounts.add("alice", "responder", PASSWORD)
    accounts.add("victor", "viewer", PASSWORD)
    with Server(hot) as server:
        yield server, accounts


def logged_in(server: Server, name: str, password: str = PASSWORD) -> Client:
    client = Client(server.url)
    assert client.login(name, password) == 303
    return client


def post(client: Client, path: str, form: dict[str, str]) -> str:
    """POST with the page's CSRF token; the message the admin page then shows."""
    token = csrf_of(client.request("/admin/users")[1])
    status, _, headers = client.request(path, {"csrf": token, **form})
    assert status == 303 and headers["location"].startswith("/admin/users?msg=")
    return urllib.parse.parse_qs(urllib.parse.urlsplit(headers["location"]).query)["msg"][0]


def roles(accounts: Accounts) -> dict[str, str]:
    return {u.name: u.role for u in accounts.list()}


def test_only_admins_open_the_page_and_every_change_needs_csrf(
    admin_ui: tuple[Server, Accounts],
) -> None:
    server, accounts = admin_ui
    roles_of = {"alice": "responder", "victor": "viewer"}
    for name in ("alice", "victor"):
        client = logged_in(server, name)
        page = client.request("/incidents")[1]
        assert 'href="/admin/users"' not in page  # no link in the nav
        status, body, _ = client.request("/admin/users")
        assert status == 403 and f"your role ({roles_of[name]}) may not manage users here" in body
        form = {"csrf": csrf_of(page), "name": "mallory", "role": "admin", "password": "x" * 12}
        assert client.request("/admin/users", form)[0] == 403
        assert client.request("/admin/users/ada/remove", {"csrf": csrf_of(page)})[0] == 403
        form = {"csrf": csrf_of(page), "role": "admin"}
        assert client.request(f"/admin/users/{name}/role", form)[0] == 403
    assert roles(accounts) == {"ada": "admin", "alice": "responder", "victor": "viewer"}

    ada = logged_in(server, "ada")
    status, page, headers = ada.request("/admin/users")
    assert status == 200 and 'href="/admin/users"' in page
    assert "script-src 'self'" in headers["content-security-policy"]
    listed = re.findall(r'<tr data-user="([^"]+)"><td>[^<]*</td><td class="role">(\w+)<', page)
    assert listed == [("ada", "admin"), ("alice", "responder"), ("victor", "viewer")]
    assert "<script>" not in page and " on" + "click=" not in page  # CSP: no inline script
    # no token, or a wrong one: refused, nothing changed
    form = {"name": "mallory", "role": "admin", "password": "x" * 12}
    assert ada.request("/admin/users", form)[0] == 403
    assert ada.request("/admin/users", {**form, "csrf": "forged"})[0] == 403
    assert ada.request("/admin/users/victor/remove", {})[0] == 403
    assert ada.request("/admin/users/victor/role", {"role": "admin"})[0] == 403
    assert ada.request("/admin/users/victor/password", {"password": "y" * 12})[0] == 403
    assert roles(accounts) == {"ada": "admin", "alice": "responder", "victor": "viewer"}
    assert logged_in(server, "victor").request("/incidents")[0] == 200  # password unchanged


def test_add_user_with_the_commands_rules(admin_ui: tuple[Server, Accounts]) -> None:
    server, accounts = admin_ui
    ada = logged_in(server, "ada")
    added = post(ada, "/admin/users", {"name": "bob", "role": "viewer", "password": "b0b-pass!"})
    assert added == "user bob added (viewer)"
    assert roles(accounts)["bob"] == "viewer"
    assert logged_in(server, "bob", "b0b-pass!").request("/incidents")[0] == 200
    page = ada.request("/admin/users?msg=x")[1]
    assert '<tr data-user="bob"><td>bob</td><td class="role">viewer<' in page

    refused = {
        "short": ({"name": "carol", "role": "viewer", "password": "short"}, "password too short"),
        "system": ({"name": "system", "role": "admin", "password": "x" * 12}, "reserved"),
        "exists": ({"name": "bob", "role": "admin", "password": "x" * 12}, "exists"),
        "role": ({"name": "carol", "role": "root", "password": "x" * 12}, "role 'root' unknown"),
        "name": ({"name": "car ol", "role": "viewer", "password": "x" * 12}, "not valid"),
        # a path segment of /admin/users/{name}/...: the browser would make it /admin/...
        "dots": ({"name": "..", "role": "viewer", "password": "x" * 12}, "not valid"),
    }
    for form, why in refused.values():
        assert why in post(ada, "/admin/users", form)
    assert set(roles(accounts)) == {"ada", "alice", "bob", "victor"}
    assert roles(accounts)["bob"] == "viewer"


def test_change_role_and_the_last_admin(admin_ui: tuple[Server, Accounts]) -> None:
    server, accounts = admin_ui
    ada = logged_in(server, "ada")
    alice = logged_in(server, "alice")
    assert alice.request("/admin/users")[0] == 403
    # the last admin stays an admin, and may not remove itself
    message = post(ada, "/admin/users/ada/role", {"role": "viewer"})
    assert message == "'ada' is the last admin: make another user admin first"
    assert post(ada, "/admin/users/ada/remove", {}) == (
        "you cannot remove yourself: another admin can"
    )
    assert roles(accounts)["ada"] == "admin"
    assert "unknown" in post(ada, "/admin/users/alice/role", {"role": "root"})
    assert "no user 'nobody'" in post(ada, "/admin/users/nobody/role", {"role": "viewer"})

    assert post(ada, "/admin/users/alice/role", {"role": "admin"}) == "alice is now admin"
    assert alice.request("/admin/users")[0] == 200  # her session goes on, with the new role
    # two admins: ada may step down; then alice is the last
    assert post(ada, "/admin/users/ada/role", {"role": "responder"}) == "ada is now responder"
    assert ada.request("/admin/users")[0] == 403
    assert "last admin" in post(alice, "/admin/users/alice/role", {"role": "viewer"})
    with pytest.raises(AuthError, match="last admin"):  # the rule is the accounts'
        accounts.remove("alice", actor="ada")
    assert roles(accounts) == {"ada": "responder", "alice": "admin", "victor": "viewer"}


def test_reset_password_and_remove_end_the_users_sessions(
    admin_ui: tuple[Server, Accounts],
) -> None:
    server, accounts = admin_ui
    ada = logged_in(server, "ada")
    victor = logged_in(server, "victor")
    alice = logged_in(server, "alice")
    page = ada.request("/admin/users")[1]
    row = re.search(r'<tr data-user="victor">.*?</tr>', page, re.S)
    assert row and "<td>1</td>" in row[0]  # one open session

    assert "password too short" in post(ada, "/admin/users/victor/password", {"password": "x"})
    assert victor.request("/incidents")[0] == 200
    message = post(ada, "/admin/users/victor/password", {"password": "n3w-password"})
    assert message == "password of victor set; their sessions ended"
    status, _, headers = victor.request("/incidents")
    assert status == 303 and headers["location"].startswith("/login")
    assert Client(server.url).login("victor", PASSWORD) == 401
    assert logged_in(server, "victor", "n3w-password").request("/incidents")[0] == 200

    assert alice.request("/incidents")[0] == 200
    assert post(ada, "/admin/users/alice/remove", {}) == "user alice removed; their sessions ended"
    status, _, headers = alice.request("/incidents")
    assert status == 303 and headers["location"].startswith("/login")
    assert Client(server.url).login("alice", PASSWORD) == 401
    assert "no user 'alice'" in post(ada, "/admin/users/alice/remove", {})
    assert set(roles(accounts)) == {"ada", "victor"}


def test_two_admins_demoting_each_other_at_once_leave_one_admin(
    admin_ui: tuple[Server, Accounts], pg_dsn: str
) -> None:
    """The admins are locked while one is demoted: a concurrent demotion waits for the
    first to commit and then sees only one admin left (without the lock both would pass)."""
    _, accounts = admin_ui
    accounts.set_role("alice", "admin")
    outcome: list[str] = []
    with psycopg.connect(pg_dsn) as first:
        admins = first.execute(
            "SELECT name FROM ui_users WHERE role = 'admin' ORDER BY name FOR UPDATE"
        ).fetchall()
        assert [a[0] for a in admins] == ["ada", "alice"]
        first.execute("UPDATE ui_users SET role = 'viewer' WHERE name = 'ada'")

        def demote() -> None:
            try:
                accounts.set_role("alice", "viewer", actor="ada")
                outcome.append("demoted")
            except AuthError as exc:
                outcome.append(str(exc))

        other = threading.Thread(target=demote)
        other.start()
        with psycopg.connect(pg_dsn, autocommit=True) as watch:  # until it waits for the lock
            deadline = time.monotonic() + 30
            while not watch.execute(
                "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE '%ui_users%' AND pid <> pg_backend_pid()"
            ).fetchone():
                assert time.monotonic() < deadline, "the second demotion never waited"
                time.sleep(0.05)
        first.commit()
        other.join(timeout=30)
    assert outcome == ["'alice' is the last admin: make another user admin first"]
    assert roles(accounts) == {"ada": "viewer", "alice": "admin", "victor": "viewer"}
