"""Password and API-key secret hashing in Elasticsearch's stored formats (PBKDF2, bcrypt).

New passwords are hashed with PBKDF2-HMAC-SHA512 at 210,000 iterations (OWASP's figure for
SHA-512), written as Elasticsearch's `pbkdf2` hashers write it (`{PBKDF2}<iterations>$salt$key`,
which Elasticsearch verifies too). That costs about 90 ms of one core per check (measured on the
development machine), paid once per credential thanks to the authentication cache (`authn.py`).
Hashes made with fewer iterations (the engine's earlier 10,000) or a bcrypt cost below 10 are
replaced at the user's next successful login (`needs_rehash`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from es_rag.engine.errors import BadRequest

try:  # bcrypt is Elasticsearch's default hasher; verify such hashes when the library is present
    import bcrypt
except ImportError:  # pragma: no cover - depends on the environment
    bcrypt = None

PBKDF2_PREFIX = "{PBKDF2}"
PBKDF2_ITERATIONS = 210_000  # PBKDF2-HMAC-SHA512, 256-bit key, as Elasticsearch's `pbkdf2_*`
MIN_BCRYPT_COST = 10  # Elasticsearch's default `bcrypt` hasher
SECRET_PREFIX = "{SSHA256}"
MIN_PASSWORD_LENGTH = 6


def hash_password(password: str) -> str:
    """Hash `password` as Elasticsearch's `pbkdf2_*` hashers do (`{PBKDF2}210000$salt$key`)."""
    salt = secrets.token_bytes(32)
    key = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS, 32)
    return (f"{PBKDF2_PREFIX}{PBKDF2_ITERATIONS}${base64.b64encode(salt).decode()}"
            f"${base64.b64encode(key).decode()}")


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches `stored`, a PBKDF2 or bcrypt hash as Elasticsearch writes them."""
    if stored.startswith(PBKDF2_PREFIX):
        return _verify_pbkdf2(password, stored)
    if _is_bcrypt(stored) and bcrypt is not None:
        return bcrypt.checkpw(password.encode(), stored.encode())
    return False


def needs_rehash(stored: str) -> bool:
    """Whether a verified password's stored hash is weaker than what `hash_password` makes."""
    if stored.startswith(PBKDF2_PREFIX):
        parts = _pbkdf2_parts(stored)
        return parts is None or parts[0] < PBKDF2_ITERATIONS
    if _is_bcrypt(stored):
        cost = stored[4:6]
        return not cost.isdigit() or int(cost) < MIN_BCRYPT_COST
    return True


def check_password_hash(stored: str) -> None:
    """Refuse a `password_hash` this engine cannot verify, naming the formats it can."""
    supported = ["pbkdf2"] + (["bcrypt"] if bcrypt is not None else [])
    usable = stored.startswith(PBKDF2_PREFIX) and _pbkdf2_parts(stored) is not None
    usable = usable or (_is_bcrypt(stored) and bcrypt is not None)
    if not usable:
        raise BadRequest(
            "The provided password hash is not a hash or it could not be resolved to a supported "
            f"hash algorithm. The supported password hash algorithms are {supported}")


def hash_secret(secret: str) -> str:
    """Salted SHA-256 of a random API-key secret (a KDF adds nothing for 128-bit random keys)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.sha256(salt + secret.encode()).digest()
    return SECRET_PREFIX + base64.b64encode(salt + digest).decode()


def verify_secret(secret: str, stored: str) -> bool:
    """Whether `secret` matches a hash made by `hash_secret`."""
    if not stored.startswith(SECRET_PREFIX):
        return False
    raw = base64.b64decode(stored[len(SECRET_PREFIX):])
    salt, digest = raw[:16], raw[16:]
    return hmac.compare_digest(hashlib.sha256(salt + secret.encode()).digest(), digest)


def _pbkdf2_parts(stored: str) -> tuple[int, bytes, bytes] | None:
    try:
        iterations, salt, key = stored[len(PBKDF2_PREFIX):].split("$")
        return int(iterations), base64.b64decode(salt), base64.b64decode(key)
    except ValueError:
        return None


def _verify_pbkdf2(password: str, stored: str) -> bool:
    parts = _pbkdf2_parts(stored)
    if parts is None:
        return False
    iterations, salt, key = parts
    candidate = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, len(key))
    return hmac.compare_digest(candidate, key)


def _is_bcrypt(stored: str) -> bool:
    return len(stored) > 4 and stored[0] == "$" and stored[1] == "2" and stored[3] == "$"
