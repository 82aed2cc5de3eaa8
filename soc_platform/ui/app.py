"""The analyst UI: server-rendered pages (Starlette + Jinja2) with a little vanilla JS.

Security defaults (README "Analyst UI"): every page but /login needs a session; sessions
are server-side (``ui_sessions``) behind an HttpOnly, SameSite=Strict cookie; every POST
carries the session's CSRF token (the login form a double-submit token); roles gate the
actions (viewer reads, responder changes incidents, admin manages users at /admin/users);
responses forbid framing and inline scripts (CSP). Incident changes go through
``lifecycle.apply_change`` with the logged-in user as the actor, so the audit trail is the
same as the CLI's; user changes through ``accounts.Accounts``, as the ``users`` command's.
"""

import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from soc_platform import sql
from soc_platform.errors import SocPlatformError
from soc_platform.hot.store import HotStore
from soc_platform.incidents import lifecycle
from soc_platform.incidents.events import EVENT_COLUMNS as PAGE_COLUMNS
from soc_platform.incidents.events import EventPage, incident_event_page
from soc_platform.search import backlog
from soc_platform.search.backends import SearchBackend, SearchHit
from soc_platform.search.query import QuerySyntaxError, parse_query
from soc_platform.ui.accounts import Accounts, Session
from soc_platform.ui.auth import MIN_PASSWORD, ROLES, AuthError, allowed

if TYPE_CHECKING:
    from soc_platform.lake.iceberg import Lake

log = logging.getLogger(__name__)
COOKIE = "soc_session"
LOGIN_COOKIE = "soc_login_csrf"
EVENTS_PAGE = 50
#: the last page of an incident's events the page offers (50,000 events)
MAX_EVENT_PAGE = 999
#: the columns of the incident page's events (the hot store's ``ui_events`` query)
EVENT_COLUMNS = (*PAGE_COLUMNS, "source_country", "source_as_number")
FACETS = ("status", "severity", "rule", "tactic", "technique", "host", "country", "asn")
FACET_KEYS = {"asn": "asn", "host": "host", "country": "country"}
TIME_RANGES = ("1h", "24h", "7d", "30d")
#: the permissions of ``auth.PERMISSIONS`` in the words of a refusal
ACTIONS = {"read": "read", "change": "make changes", "users": "manage users"}
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

_PKG = resources.files(__package__)


def create_app(hot: HotStore, search: SearchBackend, lake: "Lake | None" = None) -> Starlette:
    """The UI over ``hot`` (incidents, events, users), ``search`` (the incident list) and
    ``lake`` (raw events of days past the hot store's retention; None: no lake)."""
    templates = Jinja2Templates(directory=str(_PKG.joinpath("templates")))
    templates.env.globals["allowed"] = allowed  # the nav shows what the role may open
    accounts = Accounts(hot.connect)

    def render(request: Request, name: str, status: int = 200, **ctx: Any) -> Response:
        response = templates.TemplateResponse(request, name, ctx, status_code=status)
        response.headers.update(HEADERS)
        return response

    def current(request: Request) -> Session | None:
        return accounts.session(request.cookies.get(COOKIE, ""))

    def guarded(
        action: str,
    ) -> Callable[[Callable[[Request, Session], Awaitable[Response]]], Any]:
        def wrap(fn: Callable[[Request, Session], Awaitable[Response]]) -> Any:
            async def endpoint(request: Request) -> Response:
                session = await run_in_threadpool(current, request)
                if session is None:
                    nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                    return RedirectResponse(f"/login?{urlencode({'next': nxt})}", 303)
                if not allowed(session.user.role, action):
                    return render(
                        request,
                        "error.html",
                        403,
                        session=session,
                        message=f"your role ({session.user.role}) may not "
                        f"{ACTIONS.get(action, action)} here",
                    )
                if request.method == "POST":
                    form = await request.form()
                    token = str(form.get("csrf", ""))
                    if not hmac.compare_digest(token, session.csrf):
                        return render(
                            request,
                            "error.html",
                            403,
                            session=session,
                            message="the form's CSRF token is missing or stale: reload the page",
                        )
                return await fn(request, session)

            return endpoint

        return wrap

    async def login_page(request: Request) -> Response:
        token = secrets.token_urlsafe(24)
        response = render(
            request, "login.html", next=_safe_next(request.query_params.get("next")), csrf=token
        )
        _cookie(response, request, LOGIN_COOKIE, token, max_age=3600)
        return response

    async def login(request: Request) -> Response:
        form = await request.form()
        token = str(form.get("csrf", ""))
        expected = request.cookies.get(LOGIN_COOKIE, "")
        nxt = _safe_next(str(form.get("next", "")))
        if not expected or not hmac.compare_digest(token, expected):
            return RedirectResponse("/login", 303)
        found = await run_in_threadpool(
            accounts.login, str(form.get("username", "")), str(form.get("password", ""))
        )
        if found is None:
            fresh = secrets.token_urlsafe(24)
            response = render(
                request,
                "login.html",
                401,
                next=nxt,
                csrf=fresh,
                error="wrong user name or password",
            )
            _cookie(response, request, LOGIN_COOKIE, fresh, max_age=3600)
            return response
        cookie, _session = found
        response = RedirectResponse(nxt, 303)
        _cookie(response, request, COOKIE, cookie, max_age=12 * 3600)
        response.delete_cookie(LOGIN_COOKIE)
        return response

    @guarded("read")
    async def logout(request: Request, session: Session) -> Response:
        await run_in_threadpool(accounts.logout, request.cookies.get(COOKIE, ""))
        response = RedirectResponse("/login", 303)
        response.delete_cookie(COOKIE)
        return response

    async def home(request: Request) -> Response:
        return RedirectResponse("/incidents", 303)

    def search_view(request: Request) -> dict[str, Any]:
        q = request.query_params.get("q", "")
        sort = request.query_params.get("sort", "time")
        sort = sort if sort in ("time", "score") else "time"
        error = ""
        hits: list[SearchHit] = []
        facets: dict[str, list[tuple[str, int]]] = {}
        try:
            parsed = parse_query(q)
            hits = search.search(q, sort=sort, limit=50)
            params = parsed.sql_params(datetime.now(UTC))
            terms = params.pop("terms")
            facets = hot.search_facets(terms, {**params, "type": None})
        except QuerySyntaxError as exc:
            error = str(exc)
        except SocPlatformError as exc:
            error = f"search failed: {exc}"
        return {
            "q": q,
            "sort": sort,
            "hits": hits,
            "facets": [(f, facets.get(f, [])[:12]) for f in FACETS],
            "error": error,
            "time_ranges": TIME_RANGES,
            "with_filter": lambda key, value: _with_filter(q, key, value),
            "sort_link": lambda s: "/incidents?" + urlencode({"q": q, "sort": s}),
        }

    @guarded("read")
    async def incidents(request: Request, session: Session) -> Response:
        view = await run_in_threadpool(search_view, request)
        if request.query_params.get("partial"):
            return render(request, "results.html", session=session, **view)
        return render(request, "incidents.html", session=session, **view)

    def incident_view(incident_id: str, page: int) -> dict[str, Any] | None:
        with hot.connect() as conn:
            row = lifecycle.get_incident(conn, incident_id)
            if row is None:
                return None
            trail = lifecycle.audit_trail(conn, incident_id)
            ips = [ip for ip in dict.fromkeys([row["client_ip"], *row["sources"]]) if _ip(ip)]
            lo = row["start_time"] - timedelta(minutes=1)
            hi = row["end_time"] + timedelta(minutes=1)
            span = {"ips": ips, "lo": lo, "hi": hi}
            timeline = _rows(conn, "ui_timeline", span)
            related = _rows(conn, "ui_related", {"id": incident_id, "limit": 10})

            def hot_rows(limit: int, offset: int) -> list[dict[str, Any]]:
                return _rows(conn, "ui_events", {**span, "limit": limit, "offset": offset})

            try:
                events = (
                    incident_event_page(
                        hot_rows,
                        lake,
                        hot.policy,
                        lo=lo,
                        hi=hi,
                        ips=ips,
                        columns=EVENT_COLUMNS,
                        limit=EVENTS_PAGE,
                        offset=page * EVENTS_PAGE,
                    )
                    if ips  # the page selects by address (the lake would take none as all)
                    else EventPage([], False, "none", "no source address to select events by")
                )
            except SocPlatformError as exc:
                events = EventPage([], False, "none", f"the raw lake could not be read: {exc}")
        peak = max((int(t["events"]) for t in timeline), default=0)
        return {
            "inc": row,
            "trail": trail,
            "timeline": timeline,
            "peak": peak,
            "events": events.rows,
            "events_source": events.source,
            "events_note": events.note,
            "page": page,
            "more": events.more,
            "related": related,
        }

    @guarded("read")
    async def incident(request: Request, session: Session) -> Response:
        # bounded: a page is read as the first (page + 1) * EVENTS_PAGE events' keys
        page = min(max(0, _int(request.query_params.get("page"), 0)), MAX_EVENT_PAGE)
        view = await run_in_threadpool(incident_view, request.path_params["id"], page)
        if view is None:
            return render(request, "error.html", 404, session=session, message="no such incident")
        return render(
            request,
            "incident.html",
            session=session,
            statuses=lifecycle.STATUSES,
            dispositions=lifecycle.DISPOSITIONS,
            can_change=allowed(session.user.role, "change"),
            message=request.query_params.get("msg", ""),
            **view,
        )

    @guarded("change")
    async def change(request: Request, session: Session) -> Response:
        incident_id = request.path_params["id"]
        form = await request.form()

        def field(name: str) -> str | None:
            value = str(form.get(name, "")).strip()
            return value or None

        wanted = lifecycle.Change(
            status=field("status"),
            assignee=field("assignee"),
            note=field("note"),
            disposition=field("disposition"),
        )

        def apply() -> str:
            try:
                with hot.connect() as conn:
                    changed = lifecycle.apply_change(
                        conn, incident_id, wanted, actor=session.user.name
                    )
            except lifecycle.LifecycleError as exc:
                return str(exc)
            if changed:  # committed: the search backend follows now, or its backlog keeps it
                return backlog.index_change(hot, search, incident_id)
            return ""

        message = await run_in_threadpool(apply)
        target = f"/incidents/{incident_id}"
        if message:
            target += "?" + urlencode({"msg": message})
        return RedirectResponse(target, 303)

    def alerts_view() -> dict[str, Any]:
        from soc_platform.alerts import outbox

        with hot.connect() as conn:
            return {
                "silences": outbox.list_silences(conn, include_expired=True)[:100],
                "dead": outbox.dead_letters(conn, limit=100),
                "counts": outbox.counts(conn),
            }

    @guarded("read")
    async def alerts(request: Request, session: Session) -> Response:
        view = await run_in_threadpool(alerts_view)
        return render(
            request,
            "alerts.html",
            session=session,
            can_change=allowed(session.user.role, "change"),
            message=request.query_params.get("msg", ""),
            **view,
        )

    @guarded("change")
    async def add_silence(request: Request, session: Session) -> Response:
        from soc_platform.alerts import outbox
        from soc_platform.alerts.silences import parse_matchers
        from soc_platform.correlation.config import parse_duration

        form = await request.form()
        matchers_text = str(form.get("matchers", "")).split()
        duration_text = str(form.get("duration", "")).strip() or "2h"
        comment = str(form.get("comment", "")).strip()

        def add() -> str:
            try:
                if not comment:
                    return "a silence needs a comment (why)"
                if not matchers_text:
                    return "a silence needs at least one matcher (e.g. rule=waf-sqli-burst)"
                matchers = parse_matchers(matchers_text)
                duration = parse_duration(duration_text)
                if not duration:
                    return "the duration must be longer than 0"
                with hot.connect() as conn:
                    sid, ends = outbox.add_silence(
                        conn, matchers, duration, comment, session.user.name
                    )
            except SocPlatformError as exc:
                return str(exc)
            return f"silence {sid} until {ends:%Y-%m-%d %H:%M} UTC"

        message = await run_in_threadpool(add)
        return RedirectResponse("/alerts?" + urlencode({"msg": message}), 303)

    @guarded("change")
    async def expire_silence(request: Request, session: Session) -> Response:
        from soc_platform.alerts import outbox

        silence_id = _int(request.path_params["id"], -1)

        def expire() -> str:
            with hot.connect() as conn:
                done = outbox.expire_silence(conn, silence_id)
            return f"silence {silence_id} expired" if done else f"no active silence {silence_id}"

        message = await run_in_threadpool(expire)
        return RedirectResponse("/alerts?" + urlencode({"msg": message}), 303)

    @guarded("users")
    async def users(request: Request, session: Session) -> Response:
        found = await run_in_threadpool(accounts.list)
        return render(
            request,
            "users.html",
            session=session,
            users=found,
            roles=ROLES,
            min_password=MIN_PASSWORD,
            message=request.query_params.get("msg", ""),
        )

    async def user_action(
        request: Request, session: Session, act: Callable[[Any], str]
    ) -> Response:
        """Run ``act`` on the posted form (it returns what to tell the admin); the rules
        are the accounts' (the ``users`` command's), their refusals one line."""
        form = await request.form()

        def run() -> str:
            try:
                return act(form)
            except AuthError as exc:
                return str(exc)

        message = await run_in_threadpool(run)
        return RedirectResponse("/admin/users?" + urlencode({"msg": message}), 303)

    @guarded("users")
    async def add_user(request: Request, session: Session) -> Response:
        def act(form: Any) -> str:
            name, role = str(form.get("name", "")).strip(), str(form.get("role", ""))
            accounts.add(name, role, str(form.get("password", "")))
            return f"user {name} added ({role})"

        return await user_action(request, session, act)

    @guarded("users")
    async def set_role(request: Request, session: Session) -> Response:
        name = request.path_params["name"]

        def act(form: Any) -> str:
            role = str(form.get("role", ""))
            accounts.set_role(name, role, actor=session.user.name)
            return f"{name} is now {role}"

        return await user_action(request, session, act)

    @guarded("users")
    async def reset_password(request: Request, session: Session) -> Response:
        name = request.path_params["name"]

        def act(form: Any) -> str:
            accounts.passwd(name, str(form.get("password", "")))
            return f"password of {name} set; their sessions ended"

        return await user_action(request, session, act)

    @guarded("users")
    async def remove_user(request: Request, session: Session) -> Response:
        name = request.path_params["name"]

        def act(form: Any) -> str:
            accounts.remove(name, actor=session.user.name)
            return f"user {name} removed; their sessions ended"

        return await user_action(request, session, act)

    @guarded("read")
    async def api_search(request: Request, session: Session) -> Response:
        view = await run_in_threadpool(search_view, request)
        return JSONResponse(
            {
                "query": view["q"],
                "error": view["error"],
                "hits": [h.to_dict() for h in view["hits"]],
                "facets": dict(view["facets"]),
            },
            headers=HEADERS,
        )

    routes = [
        Route("/", home),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/incidents", incidents),
        Route("/incidents/{id}", incident),
        Route("/incidents/{id}/change", change, methods=["POST"]),
        Route("/alerts", alerts),
        Route("/alerts/silences", add_silence, methods=["POST"]),
        Route("/alerts/silences/{id}/expire", expire_silence, methods=["POST"]),
        Route("/admin/users", users, methods=["GET"]),
        Route("/admin/users", add_user, methods=["POST"]),
        Route("/admin/users/{name}/role", set_role, methods=["POST"]),
        Route("/admin/users/{name}/password", reset_password, methods=["POST"]),
        Route("/admin/users/{name}/remove", remove_user, methods=["POST"]),
        Route("/api/search", api_search),
        Mount("/static", StaticFiles(directory=str(_PKG.joinpath("static"))), name="static"),
    ]
    return Starlette(routes=routes)


def _rows(conn: Any, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql.query(name), params)
        return list(cur.fetchall())


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


def _safe_next(value: str | None) -> str:
    """Only a local path (no open redirect to another site)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/incidents"


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _with_filter(q: str, key: str, value: str) -> str:
    """The incident list link that adds (or replaces) ``key:value`` in the query ``q``."""
    kept = [t for t in q.split() if not t.lower().startswith(f"{key}:")]
    shown = f'"{value}"' if " " in value else value
    return "/incidents?" + urlencode({"q": " ".join([*kept, f"{key}:{shown}"])})
