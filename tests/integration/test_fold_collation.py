"""The collation Sigma rules fold case under (``soc_fold``), on the session's server: the
hot store's setup makes it from PostgreSQL 18's built-in ``pg_unicode_fast`` (the embedded
server, built without ICU) or ICU's root collation, and both must lower-case as Sigma asks,
which is Python's ``str.lower`` (full Unicode case mapping)."""

import sys
import unicodedata
import uuid

import psycopg
import pytest
from psycopg import sql

from soc_platform.correlation.sigma.backend import CI_COLLATION
from soc_platform.errors import HotStoreError
from soc_platform.hot.embedded import EmbeddedPostgres
from soc_platform.hot.store import HotPolicy, HotStore

KEEP = HotPolicy(retention_days=0)


def test_setup_creates_the_fold_collation_and_it_lower_cases_like_python(pg_dsn: str) -> None:
    """Every character Python's Unicode tables know lower-cases to what ``str.lower``
    gives (letters newer than those tables are left out: Python has no mapping for them),
    with the context rules (a word-final sigma) and expansions (dotted capital I)."""
    HotStore(pg_dsn, policy=KEEP).setup()
    HotStore(pg_dsn, policy=KEEP).setup()  # idempotent
    chars = [
        chr(c)
        for c in range(1, sys.maxunicode + 1)
        if unicodedata.category(chr(c)) not in ("Cn", "Cs")
    ]
    words = ["ΟΔΟΣ", "ΣΑΣ ΣΑ", "ΑΣ.", "İstanbul", "ÄÖÜ ẞ", "КИРИЛЛИЦА", "ǅ", "Ω K Å"]
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute(
            "SELECT collprovider FROM pg_collation WHERE collname = %s", [CI_COLLATION]
        ).fetchone()
        assert row is not None and row[0] in ("b", "i")  # built-in or ICU
        query = sql.SQL(
            "SELECT lower(x COLLATE {}) FROM unnest(%s::text[]) WITH ORDINALITY AS t(x, n) "
            "ORDER BY n"
        ).format(sql.Identifier(CI_COLLATION))
        lowered = [r[0] for r in conn.execute(query, [chars + words])]
    expected = [c.lower() for c in chars + words]
    wrong = [
        (f"U+{ord(c[0]):04X}", c, got, want)
        for c, got, want in zip(chars + words, lowered, expected, strict=True)
        if got != want
    ]
    assert wrong == []


def test_server_without_either_collation_is_refused(pg_cluster: EmbeddedPostgres) -> None:
    """A database neither collation serves (pg_unicode_fast is for UTF-8 databases; a
    LATIN1 one on a server without ICU) is refused at setup with the reason."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_cluster.dsn("postgres"), autocommit=True) as admin:
        icu = admin.execute("SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu'").fetchone()
        if icu:
            pytest.skip("this server has ICU, which serves LATIN1 databases too")
        admin.execute(
            sql.SQL(
                "CREATE DATABASE {} ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' "
                "TEMPLATE template0"
            ).format(sql.Identifier(name))
        )
    try:
        with pytest.raises(HotStoreError, match=r"needs PostgreSQL 18 or newer .* or a server"):
            HotStore(pg_cluster.dsn(name), policy=KEEP).setup()
    finally:
        with psycopg.connect(pg_cluster.dsn("postgres"), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
