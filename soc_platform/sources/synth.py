"""Synthetic WAF traffic: benign browsing plus injected attack campaigns, with ground truth.

Seedable and pure: ``generate`` returns events (dicts in the seed WAF format) and the list
of injected campaigns; the CLI writes them to landing files.
"""

import random
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

HOSTS = ["shop.example.com", "www.example.com", "api.example.com"]
BENIGN_PATHS = [
    "/",
    "/products",
    "/products/{n}",
    "/cart",
    "/checkout",
    "/login",
    "/account",
    "/static/app.{n}.js",
    "/static/style.css",
    "/api/v1/items?page={n}",
    "/search?q=shoes",
    "/images/{n}.webp",
    "/favicon.ico",
    "/robots.txt",
]
USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
]
ATTACK_AGENTS = ["sqlmap/1.8.5#stable (https://sqlmap.org)", "python-requests/2.32.3", "curl/8.8.0"]

# OWASP CRS rules as real ModSecurity/CRS logs carry them.
SQLI_RULES = [
    (942100, "SQL Injection Attack Detected via libinjection"),
    (942190, "Detects MSSQL code execution and information gathering attempts"),
    (942260, "Detects basic SQL authentication bypass attempts 2/3"),
    (942370, "Detects classic SQL injection probings 2/3"),
]
SQLI_TAGS = [
    "application-multi",
    "language-multi",
    "platform-multi",
    "attack-sqli",
    "paranoia-level/1",
    "OWASP_CRS",
    "capec/1000/152/248/66",
]
SQLI_PAYLOADS = [
    "id=1'+OR+'1'='1",
    "id=1+UNION+SELECT+username,password+FROM+users--",
    "q=shoes'%3B+DROP+TABLE+orders--",
    "id=1+AND+SLEEP(5)",
    "user=admin'--",
    "id=-1+UNION+ALL+SELECT+NULL,version()--",
]
XSS_RULES = [
    (941100, "XSS Attack Detected via libinjection"),
    (941160, "NoScript XSS InjectionChecker: HTML Injection"),
]
XSS_TAGS = [
    "application-multi",
    "language-multi",
    "platform-multi",
    "attack-xss",
    "paranoia-level/1",
    "OWASP_CRS",
    "capec/1000/152/242",
]
LFI_RULES = [
    (930100, "Path Traversal Attack (/../) or (/.. /)"),
    (930120, "OS File Access Attempt"),
]
LFI_TAGS = [
    "application-multi",
    "language-multi",
    "platform-multi",
    "attack-lfi",
    "paranoia-level/1",
    "OWASP_CRS",
    "capec/1000/255/153/126",
]
FALSE_POSITIVE = (
    920350,
    "Host header is a numeric IP address",
    ["application-multi", "language-multi", "platform-multi", "attack-protocol"],
)


@dataclass(frozen=True)
class Campaign:
    """An injected attack, as written to the ground-truth file."""

    name: str
    kind: str
    client_ip: str
    start: str
    end: str
    events: int
    expected_rule: str | None  # the rule that must fire, or None if none of its kind may

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ts(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _public_ip(rng: random.Random) -> str:
    while True:
        a = rng.choice([23, 31, 45, 62, 81, 89, 104, 151, 176, 185, 203, 212])
        ip = f"{a}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        return ip


def generate(
    *, events: int = 5000, minutes: int = 60, seed: int = 7, end: datetime | None = None
) -> tuple[list[dict[str, Any]], list[Campaign]]:
    """Generate ``events`` WAF events over the last ``minutes`` before ``end`` (default now).

    Injected campaigns (always present, whatever ``events``):
      - an SQL-injection burst from a 192.168.x.x client (must fire ``waf-sqli-burst``),
      - a slow SQL-injection probe below the threshold (must not fire),
      - an XSS probe (must fire ``waf-xss-burst``) and a path-traversal scan (must fire
        ``waf-path-traversal``); neither is SQL injection.
    The attack tools' user agents also fire ``waf-scanner-user-agent``.
    """
    if minutes < 5:
        raise ValueError("minutes must be at least 5: the campaigns need room")
    rng = random.Random(seed)
    end = (end or datetime.now(UTC)).replace(microsecond=0)
    start = end - timedelta(minutes=minutes)
    span = (end - start).total_seconds()
    out: list[dict[str, Any]] = []
    campaigns: list[Campaign] = []

    clients = [_public_ip(rng) for _ in range(max(5, events // 40))]
    clients += [
        f"10.{rng.randint(0, 3)}.{rng.randint(0, 255)}.{rng.randint(2, 254)}" for _ in range(5)
    ]

    def event(
        t: datetime,
        ip: str,
        path: str,
        status: int,
        ua: str,
        host: str | None = None,
        rule: tuple[int, str] | None = None,
        tags: list[str] | None = None,
        method: str = "GET",
    ) -> dict[str, Any]:
        return {
            "timestamp": _ts(t),
            "client_ip": ip,
            "host": host or rng.choice(HOSTS),
            "request_method": method,
            "request_uri": path,
            "status_code": status,
            "user_agent": ua,
            "rule_id": rule[0] if rule else 0,
            "rule_msg": rule[1] if rule else "",
            "rule_tags": tags or [],
        }

    def record(
        name: str, kind: str, ip: str, events_: list[dict[str, Any]], expected: str | None
    ) -> None:
        out.extend(events_)
        campaigns.append(
            Campaign(
                name,
                kind,
                ip,
                events_[0]["timestamp"],
                events_[-1]["timestamp"],
                len(events_),
                expected,
            )
        )

    # --- campaigns -------------------------------------------------------------------
    burst_ip = f"192.168.{rng.randint(1, 254)}.{rng.randint(2, 254)}"
    burst_n = 40
    # the burst lasts about 2 minutes: keep it inside [start, end]
    burst_start = start + timedelta(seconds=max(0.0, rng.uniform(0.3, 0.7) * (span - 130)))
    burst_host = "shop.example.com"
    burst = []
    for i in range(burst_n):
        t = burst_start + timedelta(seconds=i * 120 / burst_n + rng.uniform(0, 2))
        rid = rng.choice(SQLI_RULES)
        payload = rng.choice(SQLI_PAYLOADS)
        burst.append(
            event(
                t,
                burst_ip,
                f"/products?{payload}",
                403,
                ATTACK_AGENTS[0],
                burst_host,
                rid,
                SQLI_TAGS,
            )
        )
    record("sqli-burst", "sql_injection", burst_ip, burst, "waf-sqli-burst")

    slow_ip = _public_ip(rng)
    slow = []
    for i in range(5):
        t = start + timedelta(seconds=(i + 0.5) * span / 5)
        slow.append(
            event(
                t,
                slow_ip,
                f"/search?{rng.choice(SQLI_PAYLOADS)}",
                403,
                ATTACK_AGENTS[1],
                None,
                rng.choice(SQLI_RULES),
                SQLI_TAGS,
            )
        )
    record("sqli-slow-probe", "sql_injection", slow_ip, slow, None)

    xss_ip = _public_ip(rng)
    xss_start = start + timedelta(seconds=rng.uniform(0.1, 0.8) * span)
    xss = [
        event(
            xss_start + timedelta(seconds=i * 4),
            xss_ip,
            "/search?q=%3Cscript%3Ealert(1)%3C/script%3E",
            403,
            ATTACK_AGENTS[2],
            None,
            rng.choice(XSS_RULES),
            XSS_TAGS,
        )
        for i in range(15)
    ]
    record("xss-probe", "xss", xss_ip, xss, "waf-xss-burst")

    lfi_ip = _public_ip(rng)
    lfi_start = start + timedelta(seconds=rng.uniform(0.1, 0.8) * span)
    lfi = [
        event(
            lfi_start + timedelta(seconds=i * 3),
            lfi_ip,
            f"/download?file={'../' * rng.randint(3, 8)}etc/passwd",
            403,
            ATTACK_AGENTS[2],
            None,
            rng.choice(LFI_RULES),
            LFI_TAGS,
        )
        for i in range(12)
    ]
    record("path-traversal-scan", "path_traversal", lfi_ip, lfi, "waf-path-traversal")

    # --- benign browsing ---------------------------------------------------------------
    for _ in range(max(0, events - len(out))):
        t = start + timedelta(seconds=rng.uniform(0, span))
        path = rng.choice(BENIGN_PATHS).replace("{n}", str(rng.randint(1, 500)))
        roll = rng.random()
        status = 200 if roll < 0.85 else 304 if roll < 0.93 else 404 if roll < 0.98 else 500
        rule = None
        tags = None
        if rng.random() < 0.003:
            rule, tags = (FALSE_POSITIVE[0], FALSE_POSITIVE[1]), FALSE_POSITIVE[2]
        method = "POST" if path in ("/login", "/checkout") and rng.random() < 0.5 else "GET"
        out.append(
            event(
                t,
                rng.choice(clients),
                path,
                status,
                rng.choice(USER_AGENTS),
                rule=rule,
                tags=tags,
                method=method,
            )
        )

    out.sort(key=lambda e: e["timestamp"])
    return out, campaigns
