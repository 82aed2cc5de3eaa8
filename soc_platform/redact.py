"""Credentials out of everything the platform prints, logs or records. Pure functions.

A secret reaches text in a few shapes, all handled here:

- the password of a URL's user info: ``postgresql+psycopg2://soc:pw@db/soc``,
  ``http://admin:pw@meili:7700`` (the user name stays: it helps diagnose a refused login);
- a secret query parameter: ``?password=``, ``&sslpassword=``, ``?token=``, ``?api_key=``;
- a libpq key=value connection string: ``host=db password=pw`` (``password='p w'`` too);
- a quoted mapping entry, as ``repr`` of a dict prints it: ``'s3.secret-access-key': 'pw'``;
- an ``Authorization: Bearer`` header;
- and any secret the caller knows (:func:`secrets_of` collects them from the settings'
  URLs and DSNs), wherever it appears, e.g. decoded inside a library's message.
"""

import re
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit, urlunsplit

REDACTED = "***"

#: Names of parameters whose value is a secret (query strings, key=value DSNs, mappings).
_SECRET_NAME = (
    r"(?:[\w.-]*(?:password|passwd|passphrase|secret|token|credential|signature)[\w.-]*"
    r"|pwd|api[-_]?key|apikey|master[-_]?key|access[-_]?key(?:[-_]?id)?|private[-_]?key)"
)
# scheme://user:password@ (the password may hold '@': the last '@' before the host ends it)
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<info>[^\s/?#'\"<>]*)@")
# ?name=value / &name=value (ends at &, #, whitespace or a quote)
_QUERY = re.compile(rf"(?P<lead>[?&;]{_SECRET_NAME}=)(?P<value>[^&#\s'\"<>]*)", re.IGNORECASE)
# name=value / name = 'quoted value' (libpq key=value strings, log lines)
_KEYVALUE = re.compile(
    rf"(?P<lead>(?<![\w.-]){_SECRET_NAME}\s*=\s*)"
    r"(?P<value>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^\s'\",;&)]+)",
    re.IGNORECASE,
)
# 'name': 'value' / "name": "value" (repr of a mapping, JSON)
_MAPPING = re.compile(
    rf"(?P<lead>(?P<q>['\"]){_SECRET_NAME}(?P=q)\s*:\s*)"
    r"(?P<value>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")",
    re.IGNORECASE,
)
_BEARER = re.compile(
    r"(?P<lead>\bBearer\s+|\bAuthorization['\"]?\s*[:=]\s*['\"]?Basic\s+)"
    r"(?P<value>[A-Za-z0-9._~+/=-]{8,})",
    re.IGNORECASE,
)
#: Known secrets shorter than this are not replaced wherever they occur (a one-letter
#: password would mangle every message); the patterns above still catch them in place.
MIN_KNOWN_SECRET = 4


def _userinfo(match: re.Match[str]) -> str:
    info = match["info"]
    if ":" not in info:
        return match[0]  # a user name alone is no secret
    user = info.split(":", 1)[0]
    return f"{match['scheme']}{user}:{REDACTED}@"


def _value(match: re.Match[str]) -> str:
    value = match["value"]
    if not value or value.lstrip("'\"").startswith(REDACTED):
        return match[0]  # empty, or redacted already by an earlier pattern
    quote = value[0] if value[:1] in ("'", '"') and len(value) > 1 else ""
    return f"{match['lead']}{quote}{REDACTED}{quote}"


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every credential replaced by ``***``: URL passwords, secret query
    parameters, key=value passwords, quoted mapping entries, bearer tokens, and each of
    ``secrets`` (longest first) wherever it occurs."""
    known = sorted(
        {s for s in secrets if s and len(s) >= MIN_KNOWN_SECRET and s != REDACTED},
        key=len,
        reverse=True,
    )
    for secret in known:
        text = text.replace(secret, REDACTED)
    text = _USERINFO.sub(_userinfo, text)
    text = _QUERY.sub(_value, text)
    text = _MAPPING.sub(_value, text)
    text = _KEYVALUE.sub(_value, text)
    return _BEARER.sub(_value, text)


def redact_url(url: str) -> str:
    """One URL or DSN (URL or key=value form) fit to print: its credentials are ``***``."""
    return redact_text(url)


def has_credentials(value: str | None) -> bool:
    """Whether ``value`` (a URL, DSN or any text) holds a credential."""
    return bool(value) and redact_text(value or "") != value


def split_userinfo(url: str) -> tuple[str, str | None, str | None]:
    """``(url without user info, user, password)``; user and password are unquoted."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None, None
    info, host = parts.netloc.rsplit("@", 1)
    user, sep, password = info.partition(":")
    clean = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return clean, unquote(user) or None, unquote(password) if sep else None


def secrets_of(*addresses: str | None) -> list[str]:
    """The secrets inside URLs and DSNs, as they may appear in text: each password (and
    secret parameter) as written and percent-decoded. Plain secrets (an API key) are not
    found this way: pass them to :func:`redact_text` yourself."""
    found: set[str] = set()
    for value in addresses:
        if not value:
            continue
        for match in _USERINFO.finditer(value):
            info = match["info"]
            if ":" in info:
                found.add(info.split(":", 1)[1])
        for pattern in (_QUERY, _KEYVALUE, _MAPPING):
            for match in pattern.finditer(value):
                raw = match["value"]
                if raw[:1] in ("'", '"') and raw[-1:] == raw[:1] and len(raw) > 1:
                    raw = raw[1:-1]
                found.add(raw)
    decoded = {unquote(s) for s in found}
    return sorted((found | decoded) - {"", REDACTED})
