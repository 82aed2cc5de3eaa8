"""Credentials out of printed text (soc_platform.redact): every shape a secret takes in the
platform's URLs, DSNs and library messages, and the text around it left alone."""

import pytest

from soc_platform.errors import ConfigurationError
from soc_platform.redact import (
    has_credentials,
    redact_text,
    redact_url,
    secrets_of,
    split_userinfo,
)
from soc_platform.settings import load_settings

SECRET = "Hunter2-Zq9"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # URL user info: the user stays (it helps diagnose a refused login)
        ("http://admin:Hunter2-Zq9@meili:7700/", "http://admin:***@meili:7700/"),
        (
            "postgresql+psycopg2://soc:Hunter2-Zq9@db:5432/catalog",
            "postgresql+psycopg2://soc:***@db:5432/catalog",
        ),
        ("http://key:Hunter2-Zq9@minio:9000", "http://key:***@minio:9000"),
        ("postgresql://u:p%40ss@h/db", "postgresql://u:***@h/db"),
        ("http://u:p@ss@host/x", "http://u:***@host/x"),  # an unencoded '@' in the password
        # query-string secrets
        (
            "postgresql://u@h/db?sslmode=require&sslpassword=Hunter2-Zq9&password=x#frag",
            "postgresql://u@h/db?sslmode=require&sslpassword=***&password=***#frag",
        ),
        ("https://h/api?token=Hunter2-Zq9&x=1", "https://h/api?token=***&x=1"),
        ("https://h/?api_key=Hunter2-Zq9", "https://h/?api_key=***"),
        # libpq key=value strings, quoted or not, spaces around '='
        (
            "host=db port=5432 user=soc password=Hunter2-Zq9 dbname=soc",
            "host=db port=5432 user=soc password=*** dbname=soc",
        ),
        ("host=db password = 'a b\\' c' dbname=soc", "host=db password = '***' dbname=soc"),
        ("sslpassword=Hunter2-Zq9", "sslpassword=***"),
        # a mapping's repr (pyiceberg properties), JSON
        (
            "{'uri': 'x', 's3.secret-access-key': 'Hunter2-Zq9'}",
            "{'uri': 'x', 's3.secret-access-key': '***'}",
        ),
        ('{"password": "Hunter2-Zq9", "user": "soc"}', '{"password": "***", "user": "soc"}'),
        ("Authorization: Bearer Hunter2-Zq9xyz", "Authorization: Bearer ***"),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "Authorization: Basic ***"),
    ],
)
def test_credentials_are_redacted(text: str, expected: str) -> None:
    assert redact_text(text) == expected
    assert redact_text(expected) == expected  # idempotent


@pytest.mark.parametrize(
    "text",
    [
        'password authentication failed for user "soc"',
        "Basic authentication is not supported",
        "http://meili:7700/indexes/incidents",
        "postgresql://soc@db:5432/soc?sslmode=require",
        "sqlite:////data/lake/catalog.db",
        "s3://lake/warehouse",
        "cannot connect: connection refused (check SOC_PG_DSN)",
        "user=soc host=db dbname=soc",
        "the token bucket is empty",
    ],
)
def test_text_without_credentials_is_unchanged(text: str) -> None:
    assert redact_text(text) == text
    assert not has_credentials(text)


def test_secrets_found_in_free_text() -> None:
    message = (
        "Could not parse SQLAlchemy URL from string "
        "'postgresql+psycopg2://soc:Hunter2-Zq9@db/catalog' (connection to "
        'server at "db" failed; params host=db password=Hunter2-Zq9)'
    )
    assert SECRET not in redact_text(message)
    assert "postgresql+psycopg2://soc:***@db/catalog" in redact_text(message)


def test_known_secrets_are_redacted_wherever_they_appear() -> None:
    secrets = [*secrets_of("postgresql://u:p%40ss-word@h/db", "host=h password='x y z'")]
    assert set(secrets) == {"p%40ss-word", "p@ss-word", "x y z"}
    # an address without credentials holds no secret (it must stay readable in messages)
    assert secrets_of("minio:9000", "http://meili:7700", "host=db dbname=soc", None) == []
    secrets.append("KEYabc123")  # an API key, passed as is
    text = "decoded p@ss-word, quoted x y z, key KEYabc123 in a library's message"
    redacted = redact_text(text, secrets)
    assert "p@ss-word" not in redacted and "x y z" not in redacted
    assert "KEYabc123" not in redacted
    # too short to replace everywhere: a one-letter password does not mangle messages
    assert redact_text("a x b", ["x"]) == "a x b"


def test_split_userinfo() -> None:
    assert split_userinfo("http://key:sec%2Fret@127.0.0.1:9000/") == (
        "http://127.0.0.1:9000/",
        "key",
        "sec/ret",
    )
    assert split_userinfo("http://127.0.0.1:9000") == ("http://127.0.0.1:9000", None, None)


def test_redact_url_and_has_credentials() -> None:
    assert redact_url("http://admin:Hunter2-Zq9@h/") == "http://admin:***@h/"
    assert has_credentials("http://admin:Hunter2-Zq9@h/")
    assert has_credentials("host=h password=Hunter2-Zq9")
    assert not has_credentials(None) and not has_credentials("")


def test_settings_know_their_secrets_and_errors_hide_them() -> None:
    settings = load_settings(
        {
            "SOC_DATA_DIR": "/tmp/x",
            "MEILI_URL": "http://admin:Meili-Zq9@h:7700",
            "MEILI_API_KEY": "ApiKey-Zq9",
            "SOC_LAKE_CATALOG_URI": "postgresql+psycopg2://soc:Cat-Zq9@db/cat",
            "SOC_S3_ENDPOINT": "http://key:S3-Zq9@minio:9000",
            "SOC_S3_SECRET_ACCESS_KEY": "S3Key-Zq9",
            "SOC_PG_DSN": "host=db password=Pg-Zq9",
        }
    )
    assert {"Meili-Zq9", "ApiKey-Zq9", "Cat-Zq9", "S3-Zq9", "S3Key-Zq9", "Pg-Zq9"} <= set(
        settings.secrets
    )
    # a MEILI_URL without its scheme is refused without echoing the password
    with pytest.raises(ConfigurationError) as err:
        load_settings({"MEILI_URL": "admin:Meili-Zq9@h:7700"})
    assert "Meili-Zq9" not in str(err.value) and "h:7700" in str(err.value)
