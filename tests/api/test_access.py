"""API keys and scopes from settings, and where the service may run open."""

from __future__ import annotations

import pytest

from api.access import AccessConfigError, parse_keys, require_open_allowed
from api.problems import ApiProblem

READ = "r" * 20
BOTH = "b" * 20


def _status(call) -> int | None:
    try:
        call()
    except ApiProblem as exc:
        return exc.status
    return None


def test_each_key_grants_its_scopes_only() -> None:
    access = parse_keys(f"read:{READ}, read+score:{BOTH}")
    assert _status(lambda: access.check(READ, "read")) is None
    assert _status(lambda: access.check(READ, "score")) == 403
    assert _status(lambda: access.check(BOTH, "score")) is None
    assert _status(lambda: access.check(None, "read")) == 401
    assert _status(lambda: access.check("x" * 20, "read")) == 401


@pytest.mark.parametrize(
    "text", ["read", f"write:{READ}", f":{READ}", "read:short", f"read+admin:{READ}"]
)
def test_a_malformed_entry_is_refused_without_repeating_the_key(text: str) -> None:
    with pytest.raises(AccessConfigError, match="entry 1") as caught:
        parse_keys(text)
    assert READ not in str(caught.value)


def test_no_keys_is_open_on_loopback_of_the_embedded_default_only() -> None:
    open_access = parse_keys(None)
    assert open_access.open and parse_keys("").open
    require_open_allowed(open_access, production=False, host="127.0.0.1")
    require_open_allowed(open_access, production=False, host="localhost")
    with pytest.raises(AccessConfigError, match=r"only on 127\.0\.0\.1"):
        require_open_allowed(open_access, production=False, host="0.0.0.0")
    with pytest.raises(AccessConfigError, match="refuses anonymous"):
        require_open_allowed(open_access, production=True, host="127.0.0.1")
    require_open_allowed(parse_keys(f"read:{READ}"), production=True, host="0.0.0.0")
