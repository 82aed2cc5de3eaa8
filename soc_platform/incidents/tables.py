"""The incident tables of the hot store's database, and the rule queries over its events:
the ``incidents`` table (the system of record; its search document and terms for the
embedded search), ``shadow_incidents`` (retro-hunts), and the one mapping between an
:class:`~soc_platform.models.Incident` and a row."""

import contextlib
import ipaddress
import math
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql as pgsql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from soc_platform import sql
from soc_platform.days import day_start
from soc_platform.errors import RuleQueryError
from soc_platform.hot.connection import HotBase
from soc_platform.incidents import hooks, search_queue
from soc_platform.incidents.lifecycle import append_audit
from soc_platform.incidents.merge import Stored, plan_engine_write
from soc_platform.models import Incident

#: ORDER BY of search_incidents.sql per sort (each walks an index of the incidents table).
SEARCH_ORDERS = {
    "time": "i.start_time DESC, i.id",
    "score": "i.score DESC, i.start_time DESC, i.id",
}


#: the fewest of the newest (or highest-scored) incidents a search walks first
SEARCH_WINDOW_MIN = 100
#: the cost of reading one match through the full-text index (a heap fetch and a recheck,
#: in random order) over the cost of one step of the walk in the order's index, measured
#: with benchmarks/search.py (about 15 us against 5 us)
INDEX_FETCH_COST = 3.0


@dataclass(frozen=True)
class SearchTerms:
    """A search's free text as one tsquery (None: no free text, match all) and the
    estimated share of incidents it matches (None: unknown), with the incident count."""

    tsquery: str | None
    selectivity: float | None = None
    total: float | None = None


def search_plan(terms: SearchTerms, limit: int) -> int | None:
    """How to find the first ``limit`` matches: None, read every match through the indexes
    and sort them (cheap when few incidents match); else walk this many of the newest (or
    highest-scored) incidents first, and the whole table only when they hold fewer than
    ``limit`` matches. Pure: chosen from the estimate ``search_terms.sql`` makes from the
    vocabulary and ANALYZE's statistics, where the planner's own estimate misses prefixes
    of many rare words ("192.168"). Reading m matches costs about m * INDEX_FETCH_COST
    steps, walking to the limit-th of them about limit * total / m steps: the index wins
    below m = sqrt(limit * total / INDEX_FETCH_COST)."""
    if terms.tsquery is None or terms.total is None:
        return None  # filters only (the planner's statistics cover them), or never analysed
    total = max(terms.total, 1.0)
    selectivity = terms.selectivity if terms.selectivity is not None else 1.0
    matches = max(selectivity * total, 1.0)
    if matches <= (limit * total / INDEX_FETCH_COST) ** 0.5:
        return None
    # enough incidents to hold twice the limit at the estimated density
    return max(SEARCH_WINDOW_MIN, 2 * limit, math.ceil(2 * limit * total / matches))


def _search_sql(sort: str, window: int | None = None) -> pgsql.Composed:
    order = pgsql.SQL(SEARCH_ORDERS[sort])
    source: pgsql.Composable = pgsql.SQL("incidents")
    if window is not None:
        source = pgsql.SQL("(SELECT * FROM incidents AS i ORDER BY {} LIMIT {})").format(
            order, pgsql.Literal(window)
        )
    return sql.query("search_incidents").format(order=order, source=source)


#: the planner settings of the typo lookup (search_typo.sql): its trigram index, never a
#: scan of the vocabulary (a table scan, or a whole b-tree of it read as a bitmap)
TYPO_PLANNER = "SET LOCAL enable_seqscan = off; SET LOCAL enable_indexonlyscan = off"
#: how long a connection's database keeps its search statistics (search_stats.sql) cached
SEARCH_STATS_TTL = 60.0
_search_stats: dict[str, tuple[float, "SearchStats"]] = {}


@dataclass(frozen=True)
class SearchStats:
    """ANALYZE's view of the incidents (search_stats.sql): their count and the most common
    lexemes of their search vectors with the share of incidents holding each."""

    total: float | None
    common: Mapping[str, float] = field(default_factory=dict)

    def selectivity(self, lexemes: Sequence[str], vocabulary: Sequence[int]) -> float:
        """The share of incidents a term (its words, each a prefix) matches: per word the
        larger of the frequencies of the common lexemes it starts (right for common words)
        and the count of vocabulary words it starts over the incident count (every word is
        in at least one incident: right for a prefix of many rare words, "192.168", which
        ANALYZE and the planner miss); the rarest word counts. Pure."""
        total = max(self.total or 1.0, 1.0)
        shares = [
            max(
                sum(f for lexeme, f in self.common.items() if lexeme.startswith(word)),
                words / total,
            )
            for word, words in zip(lexemes, vocabulary, strict=True)
        ]
        return min(1.0, min(shares, default=1.0))


def _stats(cur: psycopg.Cursor[Any]) -> SearchStats:
    """The database's search statistics, cached SEARCH_STATS_TTL seconds."""
    key = cur.connection.info.dsn
    now = time.monotonic()
    cached = _search_stats.get(key)
    if cached is not None and now - cached[0] < SEARCH_STATS_TTL:
        return cached[1]
    cur.execute(sql.query("search_stats"))
    row = cur.fetchone()
    stats = SearchStats(None)
    if row is not None:
        elems, freqs = row["elems"] or [], row["freqs"] or []
        stats = SearchStats(row["total"], dict(zip(elems, freqs[: len(elems)], strict=True)))
    _search_stats[key] = (now, stats)
    return stats


def _search_tsquery(cur: psycopg.Cursor[Any], terms: Sequence[str]) -> SearchTerms | None:
    """The free-text terms as one tsquery text (search_terms.sql, search_typo.sql for a
    typo) with the estimated share of incidents it matches; None: some term matches no
    incident at all."""
    if not terms:
        return SearchTerms(None)
    cur.execute(sql.query("search_terms"), {"terms": list(terms)})
    rows = cur.fetchall()
    stats = _stats(cur) if rows else SearchStats(None)
    parts: list[str] = []
    selectivity: float | None = 1.0
    for row in rows:
        tsq = row["tsq"]
        if row["exact"]:
            if selectivity is not None:  # the terms taken as independent
                selectivity *= stats.selectivity(row["lexemes"], row["vocabulary"])
        else:
            # the planner cannot estimate a trigram match and would read the whole
            # vocabulary, computing the similarity of every word (by a scan of the table or
            # of a b-tree of it: 80 ms at 15,000 words): use the trigram index (2 ms)
            # (in a savepoint rolled back, or a transaction on an autocommit connection: the
            # settings end with it, and the caller's own settings are left as they were)
            with cur.connection.transaction(force_rollback=True):
                cur.execute(TYPO_PLANNER)
                cur.execute(sql.query("search_typo"), {"term": row["term"], "stem": row["stem"]})
                found = cur.fetchone()
            tsq = found["tsq"] if found else None
            if not tsq:
                return None
            selectivity = None  # the similar words' frequencies are not estimated
        parts.append(f"({tsq})")
    if not parts:
        return SearchTerms(None)
    return SearchTerms(" & ".join(parts), selectivity, stats.total)


def _event_facts(conn: psycopg.Connection[Any], incidents: Sequence[Incident]) -> dict[str, Any]:
    """Top user agents and paths, and the sources' countries and AS numbers, of each
    incident's events in the hot store (one statement for the batch)."""
    ids: list[str] = []
    ips: list[str] = []
    los: list[datetime] = []
    his: list[datetime] = []
    for inc in incidents:
        for ip in dict.fromkeys([inc.client_ip, *inc.sources]):
            if _is_ip(ip):
                ids.append(inc.id)
                ips.append(ip)
                los.append(inc.start_time)
                his.append(inc.end_time)
    if not ids:
        return {}
    with conn.cursor() as cur:
        cur.execute(
            sql.query("incident_event_facts"), {"ids": ids, "ips": ips, "los": los, "his": his}
        )
        return {
            row[0]: {"user_agents": row[1], "paths": row[2], "countries": row[3], "asns": row[4]}
            for row in cur.fetchall()
        }


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _with_facts(doc: str, facts: dict[str, Any] | None) -> str:
    """The search document plus the user agents and paths the incident's events carry
    (``sqlmap`` finds the scanner incident whose events have that user agent)."""
    if not facts:
        return doc
    extra = [*facts["user_agents"], *facts["paths"], *facts["countries"]]
    extra += [f"AS{a}" for a in facts["asns"]]
    return " ".join([doc, *extra]) if extra else doc


def _with_notes(doc: str, notes: Sequence[str]) -> str:
    """The search document plus the analysts' notes (an incident is found by what was
    written about it; ``lifecycle.apply_change`` appends a new note the same way)."""
    return " ".join([doc, *notes]) if notes else doc


@dataclass(frozen=True)
class UpsertResult:
    changed: int  # incidents inserted or updated
    superseded: list[str]  # ids deleted because a merged incident replaces them
    #: each stored incident's status after the write (an analyst's, when one set it)
    statuses: dict[str, str] = field(default_factory=dict)


def incident_row(inc: Incident) -> dict[str, Any]:
    """The columns of an incident's row (``incidents``; ``shadow_incidents`` takes some)."""
    return {
        "id": inc.id,
        "type": inc.type,
        "rule": inc.rule,
        "severity": inc.severity,
        "client_ip": inc.client_ip,
        "targets": list(inc.targets),
        "start_time": inc.start_time,
        "end_time": inc.end_time,
        "window_start": inc.window_start,
        "window_end": inc.window_end,
        "event_count": inc.event_count,
        "blocked_count": inc.blocked_count,
        "rule_ids": list(inc.rule_ids),
        "description": inc.description,
        "attack_techniques": list(inc.attack_techniques),
        "group_key": inc.group_key,
        "group_fields": Jsonb(dict(inc.group)),
        "sources": list(inc.sources),
        "source_count": inc.source_count,
        "target_count": inc.target_count,
        "score": inc.score,
        "score_reasons": list(inc.score_reasons),
        "status": inc.status,
        "suppression": inc.suppression,
        "suppressed_count": inc.suppressed_count,
        "rule_title": inc.rule_title,
        "rule_version": inc.rule_version,
        "attack_tactics": list(inc.attack_tactics),
    }


def incident_from_row(row: dict[str, Any]) -> Incident:
    return Incident(
        id=row["id"],
        type=row["type"],
        rule=row["rule"],
        severity=row["severity"],
        client_ip=row["client_ip"],
        targets=list(row["targets"]),
        start_time=row["start_time"],
        end_time=row["end_time"],
        window_start=row["window_start"],
        window_end=row["window_end"],
        event_count=int(row["event_count"]),
        blocked_count=int(row["blocked_count"]),
        rule_ids=list(row["rule_ids"]),
        description=row["description"],
        attack_techniques=list(row["attack_techniques"]),
        updated_at=row.get("updated_at"),
        group_key=row["group_key"],
        group=dict(row["group_fields"]),
        sources=list(row["sources"]),
        source_count=int(row["source_count"]),
        target_count=int(row["target_count"]),
        score=int(row["score"]),
        score_reasons=list(row["score_reasons"]),
        status=row["status"],
        suppression=row["suppression"],
        suppressed_count=int(row["suppressed_count"]),
        rule_title=row["rule_title"],
        rule_version=row["rule_version"],
        attack_tactics=list(row["attack_tactics"]),
        countries=list(row.get("source_countries") or ()),
        asns=[int(a) for a in row.get("source_asns") or ()],
        user_agents=list(row.get("user_agents") or ()),
        paths=list(row.get("paths") or ()),
        notes=list(row.get("notes") or ()),
    )


@dataclass(frozen=True)
class IncidentFilter:
    """Which incidents to list (None: any): ``incidents --status/--severity/--rule/--ip``."""

    statuses: Sequence[str] | None = None
    severities: Sequence[str] | None = None
    rules: Sequence[str] | None = None
    network: str | None = None  # an address or a CIDR network of a source
    since: datetime | None = None  # started at or after


class IncidentTables(HotBase):
    """Rule queries, the correlation lock, incidents and shadow incidents."""

    def match_rule(self, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Run a compiled rule's window query (``CompiledRule.query()``: SQL the Sigma backend
        compiled from a rule file, rendered into sql/rules/match_windows.sql)."""
        try:
            if self._reader is not None:
                with self._reader.cursor(row_factory=dict_row) as cur:
                    cur.execute(pgsql.SQL(query), params)
                    return list(cur.fetchall())
            with self.connect() as conn, conn.cursor(row_factory=dict_row) as cur:
                cur.execute(pgsql.SQL(query), params)
                return list(cur.fetchall())
        except (psycopg.errors.DataError, psycopg.errors.SyntaxErrorOrAccessRuleViolation) as e:
            # SQL compiled from a rule that PostgreSQL refuses (e.g. a regular expression it
            # cannot compile): the rule's problem, not the store's
            raise RuleQueryError(str(e).strip().splitlines()[0]) from e

    @contextmanager
    def scanning(
        self, create: str, fill: str, spans: Sequence[tuple[datetime, datetime]]
    ) -> Iterator[bool]:
        """Inside :meth:`reading`: the shared scan's temporary table (``create``, then
        ``fill`` once per span: ``correlation.compiler.scan_queries``) lives in the reading
        session for the duration, and is dropped after. Yields False (no table) outside a
        reading scope or when the database refuses a rule's predicate: the rules then read
        ``waf_events`` each, and the one refused reports its error alone."""
        conn = self._reader
        if conn is None or not spans:
            yield False
            return
        drop = pgsql.SQL("DROP TABLE IF EXISTS {}").format(
            pgsql.Identifier("pg_temp", "correlation_scan")
        )
        conn.execute(drop)
        try:
            lo, hi = spans[0]
            conn.execute(pgsql.SQL(create), {"lo": lo, "hi": hi})
            for lo, hi in spans:
                conn.execute(pgsql.SQL(fill), {"lo": lo, "hi": hi})
            # temporary tables are never analyzed automatically: without statistics the
            # planner would guess their size
            conn.execute("ANALYZE pg_temp.correlation_scan")
        except (psycopg.errors.DataError, psycopg.errors.SyntaxErrorOrAccessRuleViolation):
            conn.execute(drop)
            yield False
            return
        try:
            yield True
        finally:
            conn.execute(drop)

    @contextmanager
    def correlation_lock(self) -> Iterator[None]:
        """Hold the correlation lock (a session advisory lock): evaluations and the
        incident writes that follow them run one at a time across processes."""
        with self.connect(autocommit=True) as conn:
            conn.execute(sql.query("lock_correlation"))
            try:
                yield
            finally:
                conn.execute(sql.query("unlock_correlation"))

    def count_matches(self, predicate: str, start: datetime, end: datetime) -> int:
        """How many events in [start, end) a compiled predicate matches: proves a converted
        rule runs against the hot table (``rules convert --report``)."""
        query = sql.query("count_rule_matches").format(
            predicate=pgsql.SQL(predicate),
            lo=pgsql.Literal(start),
            hi=pgsql.Literal(end),
        )
        with self.connect() as conn, conn.cursor() as cur:
            cur.execute(query)
            row = cur.fetchone()
            return int(row[0]) if row else 0

    def incident_spans(
        self, rule: str, group_keys: Iterable[str], start: datetime, end: datetime
    ) -> list[tuple[str, datetime, datetime]]:
        """(group, first window start, last window end) of a rule's stored incidents of
        those groups whose windows reach into [start, end)."""
        rows = self.run_query(
            "incident_spans",
            {"rule": rule, "groups": sorted(set(group_keys)), "lo": start, "hi": end},
        )
        return [(r["group_key"], r["window_start"], r["window_end"]) for r in rows]

    def replace_shadow_incidents(
        self, hunt: str, days: Sequence[date], incidents: Sequence[Incident]
    ) -> None:
        """Store a retro-hunt's incidents of ``days`` (replacing an earlier run of them)."""
        with self.connect() as conn, conn.cursor() as cur:
            cur.execute(sql.query("delete_shadow_days"), {"hunt": hunt, "days": sorted(set(days))})
            cur.executemany(
                sql.query("insert_shadow_incident"),
                [
                    {"hunt": hunt, "day": i.window_start.astimezone(UTC).date(), **incident_row(i)}
                    for i in incidents
                ],
            )

    def shadow_diff(
        self, hunt: str, rules: Sequence[str], days: Sequence[date]
    ) -> list[dict[str, Any]]:
        """A retro-hunt against the live incidents of the same rules and days: one row per
        incident that is ``added``, ``removed`` or ``changed`` (event count, end, severity)."""
        return self.run_query(
            "shadow_diff", {"hunt": hunt, "rules": list(rules), "days": sorted(set(days))}
        )

    def upsert_incidents(
        self,
        incidents: Sequence[Incident],
        search_docs: Sequence[str],
        *,
        retire: tuple[Sequence[str], Sequence[date]] | None = None,
        last_starts: Sequence[datetime] | None = None,
        retire_windows: Sequence[tuple[str, Sequence[datetime]]] = (),
    ) -> UpsertResult:
        """Insert or update incidents by id, and delete those they supersede (same rule and
        group, first window inside the incident's run), in one transaction.

        ``retire`` = (rules, days): those whole days were re-evaluated for those rules, so
        their incidents starting there that were not found again are deleted too.
        ``retire_windows`` = (rule, window starts) evaluated for every group: the rule's
        incidents whose first window is one of them and that were not found again no longer
        fire there (a condition that can stop holding, or data replaced) and are deleted.
        ``last_starts``: each incident's last window start (default: its window end).
        """
        if not incidents and retire is None and not any(w for _, w in retire_windows):
            return UpsertResult(0, [])
        ids = [i.id for i in incidents]
        with self.connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(sql.query("transaction_time")).fetchone()
            now = row["now"] if row else datetime.now(UTC)
            cur.execute(sql.query("lock_incidents"), {"ids": ids})
            existing = {r["id"]: Stored.of(r) for r in cur.fetchall()}
            removed: list[tuple[Stored, str | None]] = []
            if retire is not None:
                rules, days = retire
                lo, hi = day_start(min(days)), day_start(max(days) + timedelta(days=1))
                cur.execute(
                    sql.query("retire_incidents"),
                    {
                        "rules": list(rules),
                        "days": sorted(set(days)),
                        "lo": lo,
                        "hi": hi,
                        "ids": ids,
                    },
                )
                removed += [(Stored.of(r), None) for r in cur.fetchall()]
            for rule, windows in retire_windows:
                if windows:
                    cur.execute(
                        sql.query("retire_incident_windows"),
                        {"rule": rule, "windows": list(windows), "ids": ids},
                    )
                    removed += [(Stored.of(r), None) for r in cur.fetchall()]
            if incidents:
                cur.execute(
                    sql.query("supersede_incidents"),
                    {
                        "rules": [i.rule for i in incidents],
                        "group_keys": [i.group_key for i in incidents],
                        "window_starts": [i.window_start for i in incidents],
                        "last_starts": list(last_starts)
                        if last_starts is not None
                        else [i.window_end for i in incidents],
                        "ids": ids,
                    },
                )
                removed += [(Stored.of(r), r["successor"]) for r in cur.fetchall()]
            new = [i for i in incidents if i.id not in existing]
            previous: dict[str, Stored] = {}
            if new:
                cur.execute(
                    sql.query("previous_incidents"),
                    {
                        "ids": [i.id for i in new],
                        "rules": [i.rule for i in new],
                        "group_keys": [i.group_key for i in new],
                        "window_starts": [i.window_start for i in new],
                    },
                )
                previous = {r["successor"]: Stored.of(r) for r in cur.fetchall()}
            plan = plan_engine_write(
                incidents,
                existing,
                removed,
                previous,
                now=now,
                reopen_window=self.policy.reopen_window,
            )
            facts = _event_facts(conn, incidents)
            params = [
                {
                    **incident_row(inc),
                    "search_doc": _with_notes(
                        _with_facts(doc, facts.get(inc.id)), plan.states[inc.id].notes
                    ),
                    **plan.states[inc.id].columns(),
                    "previous_incident": plan.previous[inc.id],
                }
                for inc, doc in zip(incidents, search_docs, strict=True)
            ]
            changed: list[dict[str, Any]] = []
            if params:
                cur.executemany(sql.query("upsert_incident"), params, returning=True)
                while True:
                    changed += cur.fetchall()
                    if not cur.nextset():
                        break
                if facts:
                    cur.execute(
                        sql.query("set_incident_sources_geo"),
                        {
                            "rows": Jsonb(
                                [
                                    {
                                        "id": k,
                                        "countries": v["countries"],
                                        "asns": v["asns"],
                                        "user_agents": v["user_agents"],
                                        "paths": v["paths"],
                                    }
                                    for k, v in facts.items()
                                ]
                            )
                        },
                    )
                cur.execute(sql.query("add_incident_terms"), {"ids": ids})
            for incident_id, state in plan.reopened.items():
                cur.execute(
                    sql.query("update_incident_state"), {"id": incident_id, **state.columns()}
                )
                changed += cur.fetchall()  # a closed incident its group's new run reopened
            append_audit(conn, plan.audit)
            hooks.after_upsert(conn, changed, dict(plan.superseded))
            gone = sorted({row.id for row, _ in removed})
            # what the search backend still needs, committed with the change itself
            search_queue.enqueue(conn, upserts=[*ids, *plan.reopened], deletes=gone)
            statuses = {i: state.status for i, state in plan.states.items()}
            return UpsertResult(len(changed), gone, statuses)

    def list_incidents(
        self,
        *,
        ids: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 100,
        where: IncidentFilter | None = None,
    ) -> list[Incident]:
        where = where or IncidentFilter()
        since = where.since
        lo = max(start, since) if start and since else start or since

        def listed(values: Sequence[str] | None) -> list[str] | None:
            return list(values) if values is not None else None

        rows = self.run_query(
            "list_incidents",
            {
                "ids": list(ids) if ids is not None else None,
                "lo": lo,
                "hi": end,
                "limit": limit,
                "statuses": listed(where.statuses),
                "severities": listed(where.severities),
                "rules": listed(where.rules),
                "network": where.network,
            },
        )
        return [incident_from_row(r) for r in rows]

    def incident_events(
        self, incident: Mapping[str, Any], *, limit: int = 50, offset: int = 0
    ) -> list[dict[str, Any]]:
        """A page of an incident's events in the hot store: those of its sources (its client
        IP, else its listed sources) over its time range, oldest first."""
        ips = [incident["client_ip"]] if incident["client_ip"] else list(incident["sources"])
        valid = []
        for ip in ips:
            try:
                valid.append(str(ipaddress.ip_address(ip)))
            except ValueError:
                continue
        params = {
            "lo": incident["start_time"],
            "hi": incident["end_time"],
            "ips": valid,
            "limit": limit,
            "offset": offset,
        }
        return self.run_query("incident_events", params)

    def search_incidents(
        self,
        terms: Sequence[str],
        filters: dict[str, Any],
        *,
        sort: str = "time",
        limit: int = 20,
        conn: psycopg.Connection[Any] | None = None,
    ) -> list[Incident]:
        """Incidents matching every free-text term (prefix, or similar words for a typo) and
        the ``filters`` (``Query.sql_params`` without ``terms``), newest first or by score.
        ``conn``: a connection to reuse (the UI's, a benchmark's), else a new one."""
        with contextlib.ExitStack() as stack:
            if conn is None:
                conn = stack.enter_context(self.connect())
            return self._search(conn, terms, filters, sort, limit)

    @staticmethod
    def _search(
        conn: psycopg.Connection[Any],
        terms: Sequence[str],
        filters: dict[str, Any],
        sort: str,
        limit: int,
    ) -> list[Incident]:
        with conn.cursor(row_factory=dict_row) as cur:
            found = _search_tsquery(cur, terms)
            if found is None:
                return []
            params = {**filters, "tsq": found.tsquery, "limit": limit}
            window = search_plan(found, limit)
            rows: list[dict[str, Any]] = []
            if window is not None:
                # many matches: the newest (highest-scored) incidents first. When they hold
                # enough matches, those are the answer (any match outside them ranks lower),
                # at a cost that does not grow with the table
                cur.execute(_search_sql(sort, window), params)
                rows = cur.fetchall()
            # fewer than the limit: the whole table (the incident count in the statistics
            # may be stale, so a window is never taken for the whole table)
            if len(rows) < limit:
                cur.execute(_search_sql(sort), params)
                rows = cur.fetchall()
            return [incident_from_row(r) for r in rows]

    def search_facets(
        self,
        terms: Sequence[str],
        filters: dict[str, Any],
        *,
        cap: int = 5000,
        conn: psycopg.Connection[Any] | None = None,
    ) -> dict[str, list[tuple[str, int]]]:
        """Facet counts (status, severity, rule, tactic, technique, host, country, asn) over
        the newest ``cap`` matches of a search: facet -> [(value, count)], biggest first."""
        with contextlib.ExitStack() as stack:
            if conn is None:
                conn = stack.enter_context(self.connect())
            with conn.cursor(row_factory=dict_row) as cur:
                found = _search_tsquery(cur, terms)
                if found is None:
                    return {}
                cur.execute(
                    sql.query("search_facets").format(matches=_search_sql("time")),
                    {**filters, "tsq": found.tsquery, "limit": cap},
                )
                out: dict[str, list[tuple[str, int]]] = {}
                for r in cur.fetchall():
                    out.setdefault(r["facet"], []).append((str(r["value"]), int(r["n"])))
                return out
