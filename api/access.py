"""API keys with scopes, from settings (``NIGHTSHIFT_API_KEYS``), and who may run open.

Keys are ``scopes:key`` entries (scopes ``read``, ``score`` or ``read+score``), sent in the
``X-API-Key`` header. Without keys the service runs open, which only the embedded default may
do, and only listening on a loopback address.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass, field

from fastapi import Request, Security
from fastapi.security import APIKeyHeader

from api.problems import ApiProblem

SCOPES = ("read", "score")
HEADER = "X-API-Key"
key_header = APIKeyHeader(name=HEADER, auto_error=False, description="An API key from settings.")


class AccessConfigError(ValueError):
    """The keys in settings cannot be read, or the service may not run open where it would."""


@dataclass(frozen=True)
class Access:
    """The keys and the scopes each grants; no keys: everyone may do everything."""

    keys: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)

    @property
    def open(self) -> bool:
        return not self.keys

    def check(self, key: str | None, scope: str) -> None:
        if self.open:
            return
        if not key:
            raise _unauthorized(f"this service needs an API key in the {HEADER} header")
        granted = next(
            (scopes for known, scopes in self.keys.items() if hmac.compare_digest(known, key)),
            None,
        )
        if granted is None:
            raise _unauthorized("the API key is not one this service knows")
        if scope not in granted:
            raise ApiProblem(403, "forbidden", f"this API key does not have the {scope} scope")


def _unauthorized(detail: str) -> ApiProblem:
    return ApiProblem(401, "unauthorized", detail, headers={"WWW-Authenticate": HEADER})


def parse_keys(text: str | None) -> Access:
    """``read:k1,read+score:k2`` as an :class:`Access` (errors never repeat a key)."""
    keys: dict[str, frozenset[str]] = {}
    for n, entry in enumerate(e.strip() for e in (text or "").split(",") if e.strip()):
        scopes, sep, key = entry.partition(":")
        wanted = frozenset(s.strip() for s in scopes.split("+"))
        if not sep or not key or not wanted <= set(SCOPES):
            raise AccessConfigError(
                f"NIGHTSHIFT_API_KEYS entry {n + 1} is not `scopes:key` with scopes among "
                f"{'/'.join(SCOPES)} joined by + (for example read+score:<key>)"
            )
        if len(key) < 16:
            raise AccessConfigError(f"NIGHTSHIFT_API_KEYS entry {n + 1}: a key needs 16+ chars")
        keys[key] = wanted
    return Access(keys)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_open_allowed(access: Access, production: bool, host: str | None) -> None:
    """Refuse to run open in production, or beyond loopback (``host`` None: not known here)."""
    if not access.open:
        return
    if production:
        raise AccessConfigError(
            "the production profile (NIGHTSHIFT_PUBLISH_DSN set) refuses anonymous requests: "
            "set NIGHTSHIFT_API_KEYS (see .env.example)"
        )
    if host is not None and not is_loopback(host):
        raise AccessConfigError(
            f"without NIGHTSHIFT_API_KEYS the service runs open, so only on 127.0.0.1; "
            f"not on {host}"
        )


def scope(name: str):
    """A route dependency: the request's key must grant ``name``."""

    def check(request: Request, key: str | None = Security(key_header)) -> None:
        request.app.state.access.check(key, name)

    return check
