"""Passwords, roles and tokens of the UI (pure: no I/O).

Passwords are hashed with scrypt (``hashlib.scrypt``, a standard memory-hard KDF) and a
random per-user salt; the stored text names the parameters so they can be raised later:
``scrypt$n$r$p$salt_hex$hash_hex``. Session cookies carry a random token; the database
keeps only its SHA-256, so a copy of the sessions table does not give usable cookies.
"""

import hashlib
import hmac
import secrets

ROLES = ("viewer", "responder", "admin")
#: what each role may do: viewer reads, responder also changes incidents, admin also users
PERMISSIONS = {
    "viewer": frozenset({"read"}),
    "responder": frozenset({"read", "change"}),
    "admin": frozenset({"read", "change", "users"}),
}
_N, _R, _P = 2**14, 8, 1
MIN_PASSWORD = 8


class AuthError(ValueError):
    """A bad role, name or password (the message is one line for the user)."""


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AuthError(f"role {role!r} unknown; use one of {', '.join(ROLES)}")
    return role


def check_name(name: str) -> str:
    if (
        not name
        or len(name) > 64
        or not all(c.isalnum() or c in "._-@" for c in name)
        or not any(c.isalnum() for c in name)  # "." and "..": a path segment of the UI's URLs
    ):
        raise AuthError(
            f"user name {name!r} is not valid: 1-64 letters, digits and . _ - @ only, "
            "with at least one letter or digit"
        )
    if name.lower() == "system":  # the incident engine's name in the audit trail
        raise AuthError("user name 'system' is reserved for the incident engine")
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AuthError(f"password too short: at least {MIN_PASSWORD} characters")
    return password


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """True if ``password`` matches ``stored`` (constant-time comparison)."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode(),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(digest) // 2,
        )
    except ValueError:
        return False
    return hmac.compare_digest(got.hex(), digest)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def allowed(role: str, action: str) -> bool:
    return action in PERMISSIONS.get(role, frozenset())
