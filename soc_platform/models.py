"""Canonical data shapes: Arrow schemas for events and dead letters, the Incident record."""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import pyarrow as pa

UTC_US = pa.timestamp("us", tz="UTC")

#: Columns of a parsed, canonical WAF event. The hot table holds exactly these; the lake
#: holds these plus ``raw`` (the input line, verbatim).
EVENT_FIELDS: list[pa.Field] = [
    pa.field("event_id", pa.string(), nullable=False),
    pa.field("event_time", UTC_US, nullable=False),
    pa.field("client_ip", pa.string(), nullable=False),
    pa.field("host", pa.string()),
    pa.field("request_method", pa.string()),
    pa.field("request_uri", pa.string()),
    pa.field("status_code", pa.int32()),
    pa.field("user_agent", pa.string()),
    pa.field("rule_id", pa.string()),
    pa.field("rule_msg", pa.string()),
    pa.field("rule_tags", pa.list_(pa.field("element", pa.string()))),
    pa.field("action", pa.string(), nullable=False),
    pa.field("source_format", pa.string(), nullable=False),
    pa.field("source_file", pa.string(), nullable=False),
    pa.field("source_offset", pa.int64(), nullable=False),
    pa.field("ingested_at", UTC_US, nullable=False),
    # issue 11, the canonical event (README "The canonical event": ECS names). Nullable:
    # existing lakes and hot tables gain them in place, older rows read null.
    pa.field("url_path", pa.string()),
    pa.field("url_query", pa.string()),
    pa.field("observer_vendor", pa.string()),
    pa.field("observer_product", pa.string()),
    pa.field("rule_ids", pa.list_(pa.field("element", pa.string()))),
    pa.field("rule_names", pa.list_(pa.field("element", pa.string()))),
    pa.field("labels", pa.list_(pa.field("element", pa.string()))),
    pa.field("request_id", pa.string()),
    pa.field("anomaly_score", pa.int32()),
    pa.field("source_country", pa.string()),
    pa.field("source_as_number", pa.int64()),
    pa.field("source_as_org", pa.string()),
    pa.field("host_criticality", pa.string()),
]
#: The columns the canonical event gained in issue 11 (lake schema evolution, migration 0005).
CANONICAL_FIELDS = [f.name for f in EVENT_FIELDS[16:]]
EVENT_SCHEMA = pa.schema(EVENT_FIELDS)
LAKE_EVENT_SCHEMA = pa.schema([*EVENT_FIELDS, pa.field("raw", pa.string(), nullable=False)])

DEAD_LETTER_SCHEMA = pa.schema(
    [
        pa.field("dead_letter_id", pa.string(), nullable=False),
        pa.field("raw", pa.string(), nullable=False),
        pa.field("source_format", pa.string(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_offset", pa.int64(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("detail", pa.string(), nullable=False),
        pa.field("ingested_at", UTC_US, nullable=False),
    ]
)


class DeadLetterReason(StrEnum):
    """Why an input line did not become an event. Stable strings: dashboards count them."""

    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    INVALID_IP = "invalid_ip"
    INVALID_TIMESTAMP = "invalid_timestamp"
    INVALID_VALUE = "invalid_value"
    TOO_LARGE = "too_large"  # longer than SOC_MAX_LINE_BYTES
    TOO_DEEP = "too_deep"  # arrays/objects nested deeper than the parser follows
    OUT_OF_RANGE = "out_of_range"  # an instant or number outside what is stored
    DUPLICATE_FIELD = "duplicate_field"  # a field of the format given twice
    UNKNOWN_FORMAT = "unknown_format"  # a file (or record) of no format the parsers know


class Action(StrEnum):
    """What the WAF did with the request."""

    BLOCKED = "blocked"
    DETECTED = "detected"  # a rule matched but the request went through (detection-only mode)
    ALLOWED = "allowed"  # no rule matched


@dataclass(frozen=True)
class Incident:
    """One detection: a rule firing for one group (e.g. a client IP) in one window."""

    id: str
    type: str
    rule: str
    severity: str
    client_ip: str
    targets: list[str]
    start_time: datetime
    end_time: datetime
    window_start: datetime
    window_end: datetime
    event_count: int
    blocked_count: int
    rule_ids: list[str]
    description: str
    attack_techniques: list[str] = field(default_factory=list)
    updated_at: datetime | None = None
    group_key: str = ""  # the group's values as one text (part of the id)
    group: dict[str, str] = field(default_factory=dict)  # group-by field -> value
    sources: list[str] = field(default_factory=list)  # client IPs (up to 20)
    source_count: int = 0
    target_count: int = 0
    score: int = 0  # 0..100; ``severity`` is its level
    score_reasons: list[str] = field(default_factory=list)
    status: str = "open"  # open, or suppressed (allow-listed: kept and counted, not alerted)
    suppression: str = ""  # why it is suppressed
    suppressed_count: int = 0  # runs folded into this one within the suppression period
    rule_title: str = ""
    rule_version: str = ""
    attack_tactics: list[str] = field(default_factory=list)
    # what the stored row adds (tables.incident_from_row): its sources' countries and AS
    # numbers, its events' most frequent user agents and paths, and the analysts' notes
    countries: list[str] = field(default_factory=list)
    asns: list[int] = field(default_factory=list)
    user_agents: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_document(self) -> dict[str, object]:
        """A JSON-ready search document (times as ISO strings plus epoch seconds for sorting)."""
        return {
            "id": self.id,
            "type": self.type,
            "rule": self.rule,
            "severity": self.severity,
            "client_ip": self.client_ip,
            "targets": list(self.targets),
            "start_time": int(self.start_time.timestamp()),
            "end_time": int(self.end_time.timestamp()),
            "start_time_iso": self.start_time.isoformat(),
            "end_time_iso": self.end_time.isoformat(),
            "window_start": int(self.window_start.timestamp()),
            "window_end": int(self.window_end.timestamp()),
            "event_count": self.event_count,
            "blocked_count": self.blocked_count,
            "rule_ids": list(self.rule_ids),
            "description": self.description,
            "attack_techniques": list(self.attack_techniques),
            "attack_tactics": list(self.attack_tactics),
            "group": dict(self.group),
            "sources": list(self.sources),
            "source_count": self.source_count,
            "target_count": self.target_count,
            "score": self.score,
            "score_reasons": list(self.score_reasons),
            "status": self.status,
            "suppression": self.suppression,
            "suppressed_count": self.suppressed_count,
            "rule_title": self.rule_title,
            "countries": list(self.countries),
            "asns": list(self.asns),
            "user_agents": list(self.user_agents),
            "paths": list(self.paths),
            "notes": list(self.notes),
        }


@dataclass(frozen=True, order=True)
class LandingFile:
    """A landing file as observed: the key changes when the file is replaced or grows."""

    path: str
    size: int
    mtime_ns: int
    etag: str | None = field(default=None, compare=False)  # an S3 object's content identity

    @property
    def key(self) -> str:
        return f"{self.path}|{self.size}|{self.mtime_ns}"

    @property
    def version(self) -> str:
        """What identifies this content of the path: an S3 object's ETag, a local file's
        size and modification time."""
        return self.etag if self.etag is not None else f"{self.size}:{self.mtime_ns}"


def local_source(root: str) -> str:
    """The ledger's name for a landing directory: its ``file://`` URI (an S3 source would
    be ``s3://bucket/prefix``). Two deployments sharing a database but not a landing
    directory keep apart."""
    return "file://" + root.rstrip("/")


class FileState(StrEnum):
    """Where a landing file is in its lifecycle (the ledger's ``state``).

    A file that a successful run retired has left the landing area and the ledger.
    """

    PENDING = "pending"  # seen, waiting for a run
    CLAIMED = "claimed"  # held by one run (sensor-launched or ``soc-platform run``)
    FAILED = "failed"  # its last run failed: retried after ``next_attempt_at``
    QUARANTINED = "quarantined"  # moved aside: kept failing alone, or read only partly


@dataclass(frozen=True)
class LedgerEntry:
    """One landing file as the ledger knows it."""

    source: str
    path: str
    version: str
    size: int
    mtime_ns: int
    state: FileState = FileState.PENDING
    claim: str | None = None  # the holding run's claim token (its ``soc/claim`` tag)
    claimed_at: datetime | None = None
    holder_host: str | None = None  # a ``soc-platform run`` process holding the claim
    holder_pid: int | None = None
    holder_started: float | None = None  # that process's start (epoch s): pid reuse guard
    attempts: int = 0  # runs holding it that failed
    alone_failures: int = 0  # of those, runs holding only this file
    retry_group: str | None = None  # files retried together (halves of a failed batch)
    last_error: str | None = None
    first_failed_at: datetime | None = None
    last_failed_at: datetime | None = None
    next_attempt_at: datetime | None = None
    quarantined_to: str | None = None
    updated_at: datetime | None = None

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class SourceHealth:
    """What the ledger remembers of a source's recent runs: the evidence that separates
    a bad file from an outage."""

    last_success_at: datetime | None = None  # a run holding files of this source succeeded
    last_fresh_failure_at: datetime | None = None  # a run holding never-failed files failed
