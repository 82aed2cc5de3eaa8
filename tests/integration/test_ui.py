"""The analyst UI as a real uvicorn server over a real PostgreSQL: login, roles, CSRF, the
incident list and page, and (in Debian's Chromium, driven by Playwright) an analyst's path:
log in, search with a typo, open the incident, change its status, see the audit row."""

import http.cookiejar
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
import uvicorn

from soc_platform.correlation.detection import default_detection
from soc_platform.flow import steps
from soc_platform.hot.embedded import free_port
from soc_platform.hot.store import HotPolicy, HotStore
from soc_platform.incidents import engine
from soc_platform.lake.iceberg import Lake
from soc_platform.parsing import get_parser, split_lines
from soc_platform.search.backends import EmbeddedSearch
from soc_platform.ui.accounts import Accounts
from soc_platform.ui.app import create_app
from tests.helpers import sqli_burst, to_jsonl

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
T0 = datetime(2026, 3, 10, 12, 0, 30, tzinfo=UTC)
PASSWORD = "correct horse battery"


def parse(events: list[dict[str, object]]) -> pa.Table:
    block = split_lines(to_jsonl(events).encode())  # type: ignore[arg-type]
    result = get_parser("waf_json")(block, "test.jsonl", datetime.now(UTC))
    assert result.dead_letters.num_rows == 0
    return result.events


class Server:
    def __init__(self, hot: HotStore, lake: Lake | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(hot, EmbeddedSearch(hot), lake),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "Server":
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "the UI server did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def ui(pg_dsn: str) -> Iterator[tuple[Server, dict[str, str]]]:
    hot = HotStore(pg_dsn, policy=HotPolicy(retention_days=0))
    hot.setup()
    scanner = sqli_burst(T0, "192.168.7.21", n=12, spacing_s=10)
    for e in scanner:
        e["user_agent"] = "sqlmap/1.7.2#stable (https://sqlmap.org)"
    other = sqli_burst(T0, "10.1.2.3", n=14, spacing_s=5)
    events = parse(scanner + other)
    steps.load_hot(hot, events)
    report = engine.correlate(
        hot, events["event_time"], default_detection().only("waf-sqli-burst"), now=T0
    )
    ids = {i.client_ip: i.id for i in report.incidents}
    accounts = Accounts(hot.connect)
    accounts.add("alice", "responder", PASSWORD)
    accounts.add("victor", "viewer", PASSWORD)
    accounts.add("ada", "admin", PASSWORD)
    with Server(hot) as server:
        yield server, ids


class Client:
    """A real HTTP client with cookies (urllib); redirects are not followed."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: object, **kwargs: object) -> None:
                return None

        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirect
        )

    def request(
        self, path: str, form: dict[str, str] | None = None
    ) -> tuple[int, str, dict[str, str]]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            with self.opener.open(self.base + path, data=data, timeout=30) as resp:
                return resp.status, resp.read().decode(), dict(resp.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(), dict(exc.headers)

    def login(self, name: str, password: str) -> int:
        _, page, _ = self.request("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf
        status, _, _ = self.request(
            "/login",
            {"csrf": csrf[1], "next": "/incidents", "username": name, "password": password},
        )
        return status


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found
    return found[1]


def test_login_roles_and_csrf(ui: tuple[Server, dict[str, str]]) -> None:
    server, ids = ui
    anon = Client(server.url)
    status, _, headers = anon.request("/incidents?q=sqlmap")
    assert status == 303 and headers["location"].startswith("/login?next=")
    assert anon.login("alice", "wrong password") == 401

    alice = Client(server.url)
    assert alice.login("alice", PASSWORD) == 303
    cookie = next(c for c in alice.jar if c.name == "soc_session")
    assert cookie.has_nonstandard_attr("HttpOnly")
    status, page, headers = alice.request("/incidents?q=sqlmap")
    assert status == 200 and ids["192.168.7.21"] in page and ids["10.1.2.3"] not in page
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    status, page, _ = alice.request("/incidents?q=colour:red")
    assert "unknown filter &#39;colour&#39;" in page

    target = f"/incidents/{ids['192.168.7.21']}"
    status, page, _ = alice.request(target)
    assert status == 200 and "sqlmap/1.7.2" in page  # raw events
    assert "same /24 network" not in page and "same target host" in page  # related
    # no CSRF token: refused, nothing changed
    status, _, _ = alice.request(target + "/change", {"status": "acknowledged"})
    assert status == 403
    assert 'id="status">open<' in alice.request(target)[1]
    status, _, _ = alice.request(
        target + "/change", {"csrf": csrf_of(page), "status": "acknowledged", "note": "mine"}
    )
    assert status == 303
    page = alice.request(target)[1]
    assert 'id="status">acknowledged<' in page and "<td>alice</td>" in page

    victor = Client(server.url)
    assert victor.login("victor", PASSWORD) == 303
    page = victor.request(target)[1]
    assert 'action="/incidents/' not in page  # no actions for a viewer
    status, _, _ = victor.request(target + "/change", {"csrf": csrf_of(page), "status": "open"})
    assert status == 403
    assert 'id="status">acknowledged<' in victor.request(target)[1]


def test_alerts_page_silences_and_dead_notifications(
    ui: tuple[Server, dict[str, str]], pg_dsn: str
) -> None:
    """Silences are created and expired from the UI (responders only, CSRF-checked), and
    notifications that kept failing are listed."""
    import psycopg
    from psycopg.types.json import Jsonb

    server, ids = ui
    with psycopg.connect(pg_dsn) as conn:  # a notification the sender gave up on
        conn.execute(
            "INSERT INTO alert_outbox (incident_id, dedup_key, route, destination, event, "
            "severity, incident, status, attempts, last_error) VALUES (%s, %s, 'default', "
            "'webhook', 'trigger', 'high', %s, 'dead', 8, 'HTTP 500 from the receiver')",
            (ids["10.1.2.3"], ids["10.1.2.3"], Jsonb({"id": ids["10.1.2.3"]})),
        )
    alice = Client(server.url)
    assert alice.login("alice", PASSWORD) == 303
    status, page, _ = alice.request("/alerts")
    assert status == 200 and "1 dead" in page and "HTTP 500 from the receiver" in page
    assert ids["10.1.2.3"] in page and "no silences" in page
    token = csrf_of(page)
    # refused: no CSRF token; no comment; an unknown matcher (one clear line)
    assert alice.request("/alerts/silences", {"matchers": "rule=waf-sqli-burst"})[0] == 403
    form = {"csrf": token, "matchers": "rule=waf-sqli-burst", "duration": "1h", "comment": ""}
    status, _, headers = alice.request("/alerts/silences", form)
    assert status == 303 and "comment" in urllib.parse.unquote_plus(headers["location"])
    form |= {"matchers": "colour=red", "comment": "maintenance"}
    _, _, headers = alice.request("/alerts/silences", form)
    assert "colour" in urllib.parse.unquote_plus(headers["location"])
    assert "no silences" in alice.request("/alerts")[1]

    form |= {"matchers": "rule=waf-sqli-burst client_ip=10.0.0.0/8"}
    status, _, headers = alice.request("/alerts/silences", form)
    assert status == 303
    page = alice.request(headers["location"])[1]
    found = re.search(r"<td>(\d+)</td><td>client_ip=10.0.0.0/8 rule=waf-sqli-burst", page)
    assert found and "maintenance" in page and "<td>alice</td>" in page
    with psycopg.connect(pg_dsn) as conn:
        (by,) = conn.execute("SELECT created_by FROM alert_silences").fetchone() or ("",)
    assert by == "alice"

    victor = Client(server.url)  # a viewer sees them, may not change them
    assert victor.login("victor", PASSWORD) == 303
    page = victor.request("/alerts")[1]
    assert 'id="add-silence"' not in page and "maintenance" in page
    assert victor.request(f"/alerts/silences/{found[1]}/expire", {"csrf": csrf_of(page)})[0] == 403

    status, _, headers = alice.request(f"/alerts/silences/{found[1]}/expire", {"csrf": token})
    assert status == 303 and "expired" in urllib.parse.unquote_plus(headers["location"])
    assert "(expired)" in alice.request("/alerts")[1]


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (make test installs it)"
)
def test_analyst_in_the_browser(ui: tuple[Server, dict[str, str]]) -> None:
    from playwright.sync_api import expect, sync_playwright

    server, ids = ui
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(server.url + "/incidents")
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/incidents")
        page.locator("#q").press_sequentially("injecton 192.168.7", delay=30)  # a typo
        rows = page.locator("table.incidents tbody tr")
        expect(rows).to_have_count(1)
        assert "q=injecton+192.168.7" in page.url  # the address holds the query
        page.click("a.incident-link")
        page.wait_for_url(f"**/incidents/{ids['192.168.7.21']}")
        page.select_option("#new-status", "in_progress")
        page.fill("#note", "checked the sqlmap source in the browser")
        page.click("#change button[type=submit]")
        expect(page.locator("#status")).to_have_text("in_progress")
        audit = page.locator("#audit tbody")
        expect(audit).to_contain_text("alice")
        expect(audit).to_contain_text("in_progress")
        page.goto(server.url + "/incidents?q=status:in_progress,open&sort=score")
        expect(page.locator("table.incidents tbody tr")).to_have_count(2)
        page.screenshot(path=str(ROOT / "docs" / "screenshots" / "incidents.png"), full_page=True)

        admin = browser.new_page()  # an admin adds a user on the Users page
        errors: list[str] = []
        admin.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        admin.goto(server.url + "/admin/users")
        admin.fill("input[name=username]", "ada")
        admin.fill("input[name=password]", PASSWORD)
        admin.click("button[type=submit]")
        admin.wait_for_url("**/admin/users")
        admin.fill("#add-user input[name=name]", "bob")
        admin.select_option("#add-user select[name=role]", "viewer")
        admin.fill("#add-user input[name=password]", "b0b-password")
        admin.click("#add-user button[type=submit]")
        expect(admin.locator("#message")).to_have_text("user bob added (viewer)")
        expect(admin.locator('tr[data-user="bob"] td.role')).to_have_text("viewer")
        assert errors == []  # nothing the CSP refused
        browser.close()
