"""The columns Sigma rules can test, and how Sigma's web taxonomy names reach them.

Rules see the hot table ``waf_events`` under the alias ``e``. A *column* here is a logical
name with the SQL expression that computes it and its kind (which decides how a value is
compared: text case-insensitively, numbers exactly, IPs by address or network, arrays by
any element).
"""

from dataclasses import dataclass
from typing import Literal

Kind = Literal["text", "int", "inet", "text[]"]


@dataclass(frozen=True)
class Column:
    name: str
    sql: str  # an SQL expression over ``waf_events AS e``
    kind: Kind
    doc: str
    # the value's normal form where events are grouped or counted by it (None: as stored)
    key: str | None = None


COLUMNS: dict[str, Column] = {
    c.name: c
    for c in (
        Column("client_ip", "e.client_ip", "inet", "client (source) IP address"),
        # Host names are case-insensitive (DNS, RFC 4343: ASCII letters only): groups and
        # distinct counts take the ASCII-lower-cased name; matching sees the Host as sent.
        Column(
            "host",
            "e.host",
            "text",
            "Host header / virtual host, as sent",
            key='lower(e.host COLLATE "C")',
        ),
        Column("request_method", "e.request_method", "text", "HTTP method, as sent"),
        Column("request_uri", "e.request_uri", "text", "full request URI: path and query"),
        Column("uri_path", "split_part(e.request_uri, '?', 1)", "text", "URI path, no query"),
        Column(
            "uri_extension",
            r"substring(split_part(e.request_uri, '?', 1) from '\.([^./]*)$')",
            "text",
            "file extension of the URI path, without the dot",
        ),
        Column(
            "url_query",
            "CASE WHEN strpos(e.request_uri, '?') > 0 "
            "THEN substr(e.request_uri, strpos(e.request_uri, '?') + 1) END",
            "text",
            "URI query string, without the '?' (null when the URI has none)",
        ),
        Column("status_code", "e.status_code", "int", "HTTP response status"),
        Column("user_agent", "e.user_agent", "text", "User-Agent header"),
        Column("rule_id", "e.rule_id", "text", "id of the WAF rule that matched"),
        Column("rule_msg", "e.rule_msg", "text", "message of the WAF rule that matched"),
        Column("rule_tags", "e.rule_tags", "text[]", "tags of the WAF rule (any element)"),
        Column("action", "e.action", "text", "blocked, detected or allowed"),
        # the canonical event (issue 11). Rows loaded before it fall back to the terminating
        # rule's id and message.
        Column(
            "rule_ids",
            "CASE WHEN e.rule_ids IS NOT NULL THEN e.rule_ids "
            "WHEN e.rule_id IS NOT NULL THEN ARRAY[e.rule_id] ELSE '{}'::text[] END",
            "text[]",
            "ids of every rule that matched (any element)",
        ),
        Column(
            "rule_names",
            "CASE WHEN e.rule_names IS NOT NULL THEN e.rule_names "
            "WHEN e.rule_msg <> '' THEN ARRAY[e.rule_msg] ELSE '{}'::text[] END",
            "text[]",
            "messages of every rule that matched (any element)",
        ),
        Column("observer_vendor", "e.observer_vendor", "text", "the WAF's vendor"),
        Column("observer_product", "e.observer_product", "text", "the WAF product"),
        Column("labels", "coalesce(e.labels, '{}'::text[])", "text[]", "AWS WAF labels"),
        Column("request_id", "e.request_id", "text", "the WAF's request id"),
        Column("anomaly_score", "e.anomaly_score", "int", "ModSecurity/Coraza anomaly score"),
        # enrichment (soc_platform.enrich): null where nothing is known
        Column("source_as_number", "e.source_as_number", "int", "client's autonomous system"),
        Column("source_as_org", "e.source_as_org", "text", "organisation of that AS"),
        Column(
            "source_country", "e.source_country", "text", "client's country (ISO 3166-1 alpha-2)"
        ),
        Column(
            "host_criticality",
            "e.host_criticality",
            "text",
            "criticality of the protected host: low, medium, high or critical",
        ),
        # Keywords (values without a field) search the request as the hot table keeps it;
        # the raw line itself stays in the lake.
        Column(
            "keywords",
            "concat_ws(' ', host(e.client_ip), e.request_method, e.request_uri, e.status_code, "
            "e.user_agent, e.host, e.rule_msg)",
            "text",
            "keyword search: client IP, method, URI, status, user agent, host and WAF message",
        ),
    )
}

#: Sigma web-server / proxy taxonomy (and common aliases) -> column.
TAXONOMY: dict[str, str] = {
    "c-ip": "client_ip",
    "clientip": "client_ip",
    "src_ip": "client_ip",
    "cs-host": "host",
    "r-dns": "host",
    "cs-method": "request_method",
    "c-uri": "request_uri",
    "cs-uri": "request_uri",
    # SigmaHQ web rules put path fragments under cs-uri-query too ("/wp-admin",
    # "../"): it is matched against the whole URI, like c-uri.
    "cs-uri-query": "request_uri",
    "c-uri-query": "request_uri",
    "cs-uri-stem": "uri_path",
    "c-uri-stem": "uri_path",
    "c-uri-extension": "uri_extension",
    "sc-status": "status_code",
    "c-useragent": "user_agent",
    "cs-user-agent": "user_agent",
    "cs(User-Agent)": "user_agent",
}

#: Elastic Common Schema names -> column: rules written against ECS (``taxonomy: ecs``) run
#: through the same pipeline as the web taxonomy.
ECS: dict[str, str] = {
    "source.ip": "client_ip",
    "client.ip": "client_ip",
    "url.domain": "host",
    "http.request.method": "request_method",
    "url.original": "request_uri",
    "url.path": "uri_path",
    "url.query": "url_query",
    "url.extension": "uri_extension",
    "http.response.status_code": "status_code",
    "user_agent.original": "user_agent",
    "rule.id": "rule_ids",
    "rule.name": "rule_names",
    "event.action": "action",
    "observer.vendor": "observer_vendor",
    "observer.product": "observer_product",
    "tags": "labels",
    "http.request.id": "request_id",
    "source.as.number": "source_as_number",
    "source.as.organization.name": "source_as_org",
    "source.geo.country_iso_code": "source_country",
    # Elastic Security's asset criticality field
    "host.asset.criticality": "host_criticality",
}

#: Fields of the taxonomy the WAF events do not carry, with the reason a rule using them
#: cannot be converted.
UNAVAILABLE: dict[str, str] = {
    "cs-referer": "WAF events keep no Referer header",
    "cs-cookie": "WAF events keep no Cookie header",
    "cs-username": "WAF events carry no authenticated user name",
    "cs-content-type": "WAF events keep no request Content-Type",
    "cs-bytes": "WAF events carry no byte counts",
    "sc-bytes": "WAF events carry no byte counts",
    "dst_ip": "WAF events carry no server (destination) IP",
    "s-ip": "WAF events carry no server (destination) IP",
    "cs-version": "WAF events carry no HTTP version",
    "http.request.referrer": "WAF events keep no Referer header",
    "destination.ip": "WAF events carry no server (destination) IP",
    "http.version": "WAF events carry no HTTP version",
}


#: Field names the pipeline gives a field the WAF events do not carry (the backend turns a
#: test on it into the constant Sigma gives it over such events).
ABSENT_PREFIX = "absent:"


def known_fields() -> set[str]:
    """Every field name a WAF rule may use: taxonomy names and the columns themselves."""
    return set(TAXONOMY) | set(ECS) | (set(COLUMNS) - {"keywords"})


def column_of(field: str) -> Column | None:
    """The column behind a Sigma field name, if the WAF events have one."""
    name = TAXONOMY.get(field, ECS.get(field, field))
    return COLUMNS.get(name) if name != "keywords" else None
