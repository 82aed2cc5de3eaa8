"""``ui`` (the analyst web UI) and ``users`` (its accounts)."""

import argparse
import getpass
import sys
from typing import Any

from soc_platform.cli.common import _hot, _print
from soc_platform.errors import ConfigurationError
from soc_platform.settings import Settings


def add_parser(sub: Any) -> None:
    ui = sub.add_parser("ui", help="the analyst web UI (login required; soc-platform users add)")
    ui.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    ui.add_argument("--port", type=int, default=8080)

    users = sub.add_parser("users", help="accounts of the analyst UI")
    act = users.add_subparsers(dest="action", required=True)
    add = act.add_parser("add", help="add a user (password from a prompt or --password-stdin)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=("viewer", "responder", "admin"))
    add.add_argument("--password-stdin", action="store_true")
    act.add_parser("list", help="the users and their roles").add_argument(
        "--json", action="store_true"
    )
    rm = act.add_parser("remove", help="remove a user (ends their sessions)")
    rm.add_argument("name")
    pw = act.add_parser("passwd", help="set a user's password (ends their sessions)")
    pw.add_argument("name")
    pw.add_argument("--role", choices=("viewer", "responder", "admin"), help="also change role")
    pw.add_argument("--password-stdin", action="store_true")


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(f"password for {args.name}: ")
    if getpass.getpass("again: ") != first:
        raise ConfigurationError("the two passwords differ: run the command again")
    return first


def cmd_users(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from soc_platform.ui.accounts import Accounts
    from soc_platform.ui.auth import AuthError

    accounts = Accounts(_hot(settings).connect)
    try:
        if args.action == "add":
            accounts.add(args.name, args.role, _password(args))
            _print(f"user {args.name} added ({args.role})")
        elif args.action == "list":
            found = accounts.list()
            if args.json:
                _print(json.dumps([{"name": u.name, "role": u.role} for u in found]))
            elif not found:
                _print("no users yet (soc-platform users add NAME --role admin)")
            for u in [] if args.json else found:
                _print(f"{u.name:<24} {u.role}")
        elif args.action == "remove":
            accounts.remove(args.name)
            _print(f"user {args.name} removed")
        else:
            accounts.passwd(args.name, _password(args), role=args.role)
            _print(f"password of {args.name} set; their sessions ended")
    except AuthError as exc:
        raise ConfigurationError(str(exc)) from None
    return 0


def build_app(settings: Settings) -> Any:
    """The UI app on the configured stores (the lake too: events past hot retention).
    With Meilisearch it searches with the
    search-only key (SOC_MEILI_SEARCH_KEY), never the master key; without that key it
    searches the incidents table (the system of record) itself."""
    from soc_platform import factory
    from soc_platform.search.backends import EmbeddedSearch, MeilisearchSearch, SearchBackend
    from soc_platform.ui.app import create_app

    hot = _hot(settings)
    search: SearchBackend = EmbeddedSearch(hot)
    if settings.meili_url and settings.meili_search_key:
        search = MeilisearchSearch(settings.meili_url, settings.meili_search_key)
    # the raw lake: an incident's events for days past the hot store's retention
    return create_app(hot, search, factory.lake(settings))


def cmd_ui(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from soc_platform.hot.embedded import port_is_free

    if not port_is_free(args.port, args.host):
        raise ConfigurationError(f"port {args.port} on {args.host} is taken: pass --port")
    app = build_app(settings)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        _print(f"warning: the UI listens on {args.host}: put it behind TLS (a reverse proxy)")
    _print(f"Analyst UI on http://{args.host}:{args.port}; Ctrl-C stops it")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
