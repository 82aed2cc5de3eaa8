"""Incident search backends behind one interface.

- ``EmbeddedSearch``: the ``incidents`` table itself, PostgreSQL full text plus ``pg_trgm``
  for typos. Indexing is a no-op: the system-of-record rows carry their search columns.
- ``MeilisearchSearch``: a Meilisearch index ``incidents`` (primary key ``id``), settings
  applied idempotently, every task awaited and its failure surfaced.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from soc_platform.errors import SearchBackendError
from soc_platform.hot.store import HotStore
from soc_platform.models import Incident
from soc_platform.redact import redact_text, redact_url, secrets_of
from soc_platform.search.query import Query, free_terms, parse_query, source_prefixes

INDEX_UID = "incidents"
MEILI_SETTINGS: dict[str, Any] = {
    "searchableAttributes": [
        "description",
        "client_ip",
        "sources",
        "targets",
        "type",
        "rule",
        "rule_title",
        "rule_ids",
        "attack_techniques",
        "attack_tactics",
        "user_agents",
        "paths",
        "notes",
    ],
    "filterableAttributes": [
        "type",
        "client_ip",
        "start_time",
        "end_time",
        "severity",
        "rule",
        "status",
        "attack_techniques",
        "attack_tactics",
        "score",
        "source_prefixes",
        "hosts",
        "countries",
        "asns",
    ],
    "sortableAttributes": ["start_time", "end_time", "event_count", "score"],
    "displayedAttributes": ["*"],
    # relevance first, then higher score, then the newest
    "rankingRules": [
        "words",
        "typo",
        "proximity",
        "attribute",
        "exactness",
        "score:desc",
        "start_time:desc",
    ],
    "faceting": {"maxValuesPerFacet": 100},
    "synonyms": {
        "sqli": ["sql injection"],
        "sql injection": ["sqli"],
        "xss": ["cross-site scripting", "cross site scripting"],
        "cross-site scripting": ["xss"],
        "cross site scripting": ["xss"],
        "lfi": ["local file inclusion", "path traversal"],
        "local file inclusion": ["lfi"],
        "path traversal": ["lfi"],
        "rce": ["remote code execution", "command injection"],
        "remote code execution": ["rce"],
        "command injection": ["rce"],
    },
}


def meili_document(inc: Incident) -> dict[str, Any]:
    """An incident as a Meilisearch document: ``Incident.to_document`` (with what the stored
    row adds: countries, AS numbers, user agents, paths, notes) plus the fields the filter
    syntax needs (source networks, target hosts)."""
    doc = inc.to_document()
    doc["source_prefixes"] = sorted(
        {p for ip in [inc.client_ip, *inc.sources] for p in source_prefixes(ip)}
    )
    doc["hosts"] = sorted({t.split("/", 1)[0].lower() for t in inc.targets if t})
    return doc


def query_terms(query: str) -> list[str]:
    """Split a free-text query into lower-case terms (quotes and separators dropped)."""
    return free_terms(query)


@dataclass(frozen=True)
class SearchHit:
    id: str
    type: str
    client_ip: str
    severity: str
    start_time: datetime
    description: str
    rule: str = ""
    status: str = "open"
    score: int = 0

    @classmethod
    def from_incident(cls, inc: Incident) -> "SearchHit":
        return cls(
            inc.id,
            inc.type,
            inc.client_ip,
            inc.severity,
            inc.start_time,
            inc.description,
            inc.rule,
            inc.status,
            inc.score,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "client_ip": self.client_ip,
            "severity": self.severity,
            "start_time": self.start_time.isoformat(),
            "description": self.description,
            "rule": self.rule,
            "status": self.status,
            "score": self.score,
        }


class SearchBackend(Protocol):
    name: str
    #: whether the backend holds its own copy of the incidents (Meilisearch), which the
    #: search backlog (search/backlog.py) keeps up to date; False: it reads the table
    stores_documents: bool

    def ensure_index(self) -> None: ...

    def upsert(self, incidents: Sequence[Incident]) -> int: ...

    def delete(self, ids: Sequence[str]) -> int: ...

    def prune(self, start: datetime, end: datetime, keep: Sequence[str]) -> int: ...

    def search(
        self,
        query: str,
        *,
        type_: str | None = None,
        client_ip: str | None = None,
        limit: int = 20,
        sort: str = "time",
    ) -> list[SearchHit]:
        """Incidents matching ``query`` (soc_platform/search/query.py syntax), newest first
        (``sort="time"``) or highest score first (``"score"``)."""
        ...


class EmbeddedSearch:
    """Search over the incidents table (no extra service)."""

    name = "embedded"
    stores_documents = False

    def __init__(self, hot: HotStore, conn: Any = None) -> None:
        self.hot = hot
        self.conn = conn  # a psycopg connection to reuse for every search (None: a new one)

    def ensure_index(self) -> None:
        # the search columns, indexes and vocabulary are part of the hot store's schema
        self.hot.ensure_setup()  # the incidents table and its search terms

    def upsert(self, incidents: Sequence[Incident]) -> int:
        # The incidents rows are the index (search_doc/search_tsv are written with them).
        return len(incidents)

    def delete(self, ids: Sequence[str]) -> int:
        # Superseded incidents were deleted from the incidents table, which is the index.
        return len(ids)

    def prune(self, start: datetime, end: datetime, keep: Sequence[str]) -> int:
        # The index is the incidents table: nothing can be stale.
        return 0

    def search(
        self,
        query: str,
        *,
        type_: str | None = None,
        client_ip: str | None = None,
        limit: int = 20,
        sort: str = "time",
    ) -> list[SearchHit]:
        parsed = _with_legacy(parse_query(query), type_, client_ip)
        params = parsed.sql_params(datetime.now(UTC))
        terms = params.pop("terms")
        found = self.hot.search_incidents(
            terms, {**params, "type": type_}, sort=sort, limit=limit, conn=self.conn
        )
        return [SearchHit.from_incident(i) for i in found]


class MeilisearchSearch:
    """Meilisearch backend (https://www.meilisearch.com/docs/reference/api)."""

    name = "meilisearch"
    stores_documents = True

    def __init__(self, url: str, api_key: str | None, timeout_ms: int = 30_000) -> None:
        import meilisearch

        self.url = url.rstrip("/")
        self.where = redact_url(self.url)  # what messages show
        self._secrets = secrets_of(url) + ([api_key] if api_key else [])
        self.timeout_ms = timeout_ms
        self.client = meilisearch.Client(self.url, api_key, timeout=max(1, timeout_ms // 1000))
        self._ready = False

    def _error(self, what: str, exc: BaseException) -> SearchBackendError:
        """One line: unreachable (and why, briefly) or what Meilisearch answered."""
        from meilisearch.errors import MeilisearchApiError, MeilisearchTimeoutError

        if isinstance(exc, MeilisearchTimeoutError):
            return SearchBackendError(
                f"Meilisearch at {self.where}: {what} did not finish within "
                f"{self.timeout_ms // 1000} s"
            )
        if isinstance(exc, MeilisearchApiError):
            detail = getattr(exc, "message", "") or str(exc)
            code = getattr(exc, "code", "") or ""
            text = f"{code}: {detail}" if code else detail
            return SearchBackendError(
                f"Meilisearch at {self.where}: {what} refused: {self._clean(text)}"
            )
        return SearchBackendError(
            f"Meilisearch at {self.where} unreachable ({unreachable_reason(exc)})"
        )

    def _clean(self, text: str) -> str:
        line = next((ln.strip() for ln in str(text).splitlines() if ln.strip()), "")
        return redact_text(line, self._secrets)

    def _wait(self, task_uid: int, what: str) -> None:
        from meilisearch.errors import MeilisearchError

        try:
            task = self.client.wait_for_task(task_uid, timeout_in_ms=self.timeout_ms)
        except MeilisearchError as exc:
            raise self._error(what, exc) from exc
        if task.status != "succeeded":
            raise SearchBackendError(
                f"Meilisearch at {self.where}: {what} {task.status}: {self._clean(str(task.error))}"
            )

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from meilisearch.errors import MeilisearchError

        try:
            return fn(*args, **kwargs)
        except MeilisearchError as exc:
            raise self._error(what, exc) from exc

    def ensure_index(self) -> None:
        """Create the index if missing and apply the settings (idempotent)."""
        from meilisearch.errors import MeilisearchApiError

        try:
            self.client.get_index(INDEX_UID)
        except MeilisearchApiError as exc:
            if getattr(exc, "code", "") != "index_not_found":
                raise self._error("reading the index", exc) from exc
            info = self._call(
                "create index", self.client.create_index, INDEX_UID, {"primaryKey": "id"}
            )
            self._wait(info.task_uid, "create index")
        except SearchBackendError:
            raise
        except Exception as exc:  # connection refused, DNS, TLS...
            raise self._error("reading the index", exc) from exc
        index = self.client.index(INDEX_UID)
        info = self._call("update settings", index.update_settings, dict(MEILI_SETTINGS))
        self._wait(info.task_uid, "update settings")
        self._ready = True

    def upsert(self, incidents: Sequence[Incident]) -> int:
        if not incidents:
            return 0
        if not self._ready:
            self.ensure_index()
        index = self.client.index(INDEX_UID)
        docs = [meili_document(inc) for inc in incidents]
        for start in range(0, len(docs), 5000):
            info = self._call(
                "add documents", index.add_documents, docs[start : start + 5000], primary_key="id"
            )
            self._wait(info.task_uid, "add documents")
        return len(docs)

    def delete(self, ids: Sequence[str]) -> int:
        """Remove documents by id (incidents merged into others)."""
        if not ids:
            return 0
        if not self._ready:
            self.ensure_index()
        index = self.client.index(INDEX_UID)
        info = self._call("delete documents", index.delete_documents, list(ids))
        self._wait(info.task_uid, "delete documents")
        return len(ids)

    def prune(self, start: datetime, end: datetime, keep: Sequence[str]) -> int:
        """Delete the documents that started in [start, end) but are not in ``keep``: after a
        rebuild of those days, incidents that no longer exist must not stay searchable."""
        if not self._ready:
            self.ensure_index()
        index = self.client.index(INDEX_UID)
        flt = f"start_time >= {int(start.timestamp())} AND start_time < {int(end.timestamp())}"
        present: list[str] = []
        offset = 0
        while True:
            page = self._call(
                "fetch documents",
                index.get_documents,
                {"filter": flt, "fields": ["id"], "limit": 1000, "offset": offset},
            )
            present.extend(str(doc.id) for doc in page.results)
            offset += len(page.results)
            if not page.results or offset >= page.total:
                break
        stale = sorted(set(present) - set(keep))
        return self.delete(stale) if stale else 0

    def search(
        self,
        query: str,
        *,
        type_: str | None = None,
        client_ip: str | None = None,
        limit: int = 20,
        sort: str = "time",
    ) -> list[SearchHit]:
        parsed = parse_query(query)
        filters = []
        if type_:
            filters.append(f"type = {_quote(type_)}")
        if client_ip:
            filters.append(f"client_ip = {_quote(client_ip)}")
        syntax = parsed.meili_filter(datetime.now(UTC))
        if syntax:
            filters.append(syntax)
        params: dict[str, Any] = {"limit": limit}
        if filters:
            params["filter"] = " AND ".join(filters)
        # relevance first (typo tolerance, synonyms), then the settings' ranking rules
        if sort == "score":
            params["sort"] = ["score:desc", "start_time:desc"]
        result = self._call("search", self.client.index(INDEX_UID).search, parsed.text, params)
        return [
            SearchHit(
                id=h["id"],
                type=h["type"],
                client_ip=h["client_ip"],
                severity=h.get("severity", ""),
                start_time=datetime.fromtimestamp(h["start_time"], UTC),
                description=h["description"],
                rule=h.get("rule", ""),
                status=h.get("status", "open"),
                score=int(h.get("score", 0)),
            )
            for h in result["hits"]
        ]


def _with_legacy(parsed: Query, type_: str | None, client_ip: str | None) -> Query:
    """The ``client_ip=`` keyword of older callers as an ``ip:`` filter."""
    if not client_ip:
        return parsed
    return replace(
        parsed, networks=(*parsed.networks, f"{client_ip}/{32 if '.' in client_ip else 128}")
    )


def unreachable_reason(exc: BaseException) -> str:
    """Why a server could not be reached, in a few words (connection refused, timed out,
    host not found...), from the message of the exception or its causes."""
    text = ""
    cur: BaseException | None = exc
    for _ in range(8):  # the exception and its causes
        if cur is None:
            break
        text += f" {cur}"
        cur = cur.__cause__ or cur.__context__
    lowered = text.lower()
    for needle, reason in (
        ("connection refused", "connection refused"),
        ("timed out", "timed out"),
        ("timeout", "timed out"),
        ("name or service not known", "host name not found"),
        ("nodename nor servname", "host name not found"),
        ("temporary failure in name resolution", "host name not found"),
        ("no route to host", "no route to host"),
        ("network is unreachable", "network unreachable"),
        ("connection reset", "connection reset"),
        ("remotedisconnected", "connection closed by the server"),
        ("certificate", "TLS certificate problem"),
        ("ssl", "TLS error"),
    ):
        if needle in lowered:
            return reason
    first = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
    return redact_text(first)[:200]


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def make_search_backend(
    hot: HotStore | None, meili_url: str | None, api_key: str | None
) -> SearchBackend:
    """Meilisearch when a URL is configured, else the embedded backend over ``hot``."""
    if meili_url:
        return MeilisearchSearch(meili_url, api_key)
    if hot is None:
        raise ValueError("the embedded search backend needs the hot store")
    return EmbeddedSearch(hot)
