"""Hostile configuration: generated values of KHALTI_TIMEOUT, KHALTI_BASE_URL and KHALTI_SECRET_KEY that
cannot work (inf, nan, 0, huge, junk; brackets, bad ports, tabs, full-width hosts, user names; keys with
line breaks, spaces, non-ASCII letters). Each is a configuration error: exit 4 with a sentence naming the
setting, never exit 1 or a traceback, the key never echoed, and nothing written to the database (before
this, `initiate` left a link in `sending`).

    python -m pytest -q -n 0 -s tests/test_hostile_config.py     (-s prints how many cases were tried)
"""

from __future__ import annotations

import sqlite3
import string
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pytest
from conftest import Cli, Run
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from khalti_cli.sandbox import SandboxServer

PROPERTY = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
TRIED: dict[str, int] = {}
COMMANDS = st.sampled_from([("initiate", "NEW"), ("lookup", "LIVE"), ("reconcile",), ("initiate", "LIVE", "--force")])


def tried(name: str) -> None:
    TRIED[name] = TRIED.get(name, 0) + 1


@pytest.fixture(scope="module", autouse=True)
def report_counts() -> Iterator[None]:
    yield
    for name, n in TRIED.items():
        print(f"\n{name}: {n} generated cases")
    if TRIED:
        print(f"\nhostile configuration: {sum(TRIED.values())} generated cases in all")


@pytest.fixture
def office(cli: Cli, configured: SandboxServer, isolated: Path) -> Path:
    """A payment without a link (NEW) and one with a live link (LIVE), made with a good configuration."""
    assert cli("create", "--amount", "1500", "--name", "Fee", "--order-id", "NEW").exit_code == 0
    assert cli("create", "--amount", "1500", "--name", "Fee", "--order-id", "LIVE", "--initiate").exit_code == 0
    return isolated / "khalti.db"


def snapshot(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(db)
    try:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY id").fetchall() for t in ("payments", "links", "events")}
    finally:
        conn.close()


def refused_as_configuration(run: Run, setting: str) -> None:
    assert run.exit_code == 4, run
    assert run.stderr.startswith("Error: ") and setting in run.stderr, run.stderr
    assert "Traceback" not in run.stderr and "unexpected problem" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert run.stdout == ""


def check(cli: Cli, db: Path, command: tuple[str, ...], setting: str, value: str) -> Run:
    before = snapshot(db)
    run = cli(*command, env={setting: value})
    refused_as_configuration(run, setting)
    assert snapshot(db) == before  # nothing written: no 'sending' link, no event
    return run


# --- KHALTI_TIMEOUT ---------------------------------------------------------------------------------------


def usable_timeout(text: str) -> bool:
    try:
        seconds = Decimal(text.strip())
        return seconds.is_finite() and 0 < seconds <= 300 and int(seconds * 1000) >= 1
    except (InvalidOperation, ValueError):
        return False


ENV_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), min_size=1, max_size=30
)
TIMEOUTS = st.one_of(
    st.sampled_from(["inf", "-inf", "Infinity", "nan", "NaN", "sNaN", "0", "0.0", "-0", "1e999999999", "1e-999999"]),
    st.sampled_from(["0.0001", "300.001", "15s", "15 seconds", "1,5", "0x10", "½", "१५", "  ", "1e3", "9" * 5000]),
    st.integers(max_value=0).map(str),
    st.integers(min_value=301).map(str),
    st.floats().map(str),
    ENV_TEXT,
).filter(lambda t: t != "" and not usable_timeout(t))


@PROPERTY
@given(value=TIMEOUTS, command=COMMANDS)
@example(value="inf", command=("initiate", "NEW"))
def test_unusable_timeouts_are_configuration_errors(
    cli: Cli, office: Path, value: str, command: tuple[str, ...]
) -> None:
    tried("KHALTI_TIMEOUT values")
    check(cli, office, command, "KHALTI_TIMEOUT", value)


# --- KHALTI_BASE_URL --------------------------------------------------------------------------------------

INSIDE = ["\t", " ", "\n", "\r", "\x7f", "\x1b", "\u2028", "\u00a0", "\u3000", "\x0b", "\x0c"]
BASE = "https://dev.khalti.com/api/v2"
SCHEMES = ["ftp://khalti.com", "javascript:alert(1)", "file:///etc/passwd", "khalti.com", "//khalti.com"]


@st.composite
def broken_urls(draw: Any) -> str:
    kind = draw(st.sampled_from(["inside", "bracket", "port", "wide", "userinfo", "scheme", "tail", "host"]))
    if kind == "inside":
        at = draw(st.integers(1, len(BASE) - 1))
        return BASE[:at] + draw(st.sampled_from(INSIDE)) + BASE[at:]
    if kind == "bracket":
        inner = draw(st.one_of(st.text(string.ascii_letters + ":.%", max_size=12), st.just("x"), st.just("::1:")))
        return f"https://[{inner}]" if inner not in ("::1", "::") else "https://[::1"
    if kind == "port":
        port = draw(
            st.one_of(
                st.sampled_from(["abc", "0", "65536", "99999999999999", "-1", "+80", "8O", "٣", "1_0", "80:80"]),
                st.integers(min_value=65536).map(str),
                st.text(string.ascii_letters + string.punctuation.replace("/", "").replace("?", ""), min_size=1),
            ).filter(lambda p: not (p.isdigit() and 0 < int(p) < 65536))
        )
        return f"https://khalti.com:{port}"
    if kind == "wide":
        host = draw(st.text(st.characters(min_codepoint=0xA1, blacklist_categories=["Cs", "Zs", "Cc"]), min_size=1))
        return draw(st.sampled_from(["https://{}", "https://{}.com", "https://khalti.{}"])).format(host)
    if kind == "userinfo":
        user = draw(st.text(string.ascii_letters + string.digits + ":.", min_size=0, max_size=10))
        return f"https://{user}@khalti.com"
    if kind == "scheme":
        return draw(
            st.sampled_from(
                [*SCHEMES, "https:/khalti.com", "https//khalti.com", "ws://khalti.com", "https://", "http:///x"]
            )
        )
    if kind == "tail":
        return "https://khalti.com" + draw(st.sampled_from(["/?x=1", "/#frag", "\\api", "/api/v2?pidx=1", "/a b"]))
    return "https://" + draw(
        st.sampled_from(["-bad-.com", "a..b", "a" * 64 + ".com", "999.1.1.1", "1.2.3.4.5", "_x.com", "a_b.com", "."])
    )


@PROPERTY
@given(value=broken_urls(), command=COMMANDS)
@example(value="https://[x]", command=("initiate", "NEW"))
@example(value="https://khalti.com:abc", command=("initiate", "NEW"))
@example(value="https://dev.khalti\t.com", command=("initiate", "NEW"))
@example(value="https://ｋｈａｌｔｉ.com", command=("initiate", "NEW"))
@example(value="https://05bf95cc57244045b8df5fad06748dab@khalti.com", command=("initiate", "NEW"))
def test_unusable_base_urls_are_configuration_errors(
    cli: Cli, office: Path, value: str, command: tuple[str, ...]
) -> None:
    tried("KHALTI_BASE_URL values")
    run = check(cli, office, command, "KHALTI_BASE_URL", value)
    assert "\t" not in run.stderr and "\x1b" not in run.stderr  # the bad value is shown, made printable
    if "@" in value:  # a user name or password in the URL (perhaps the key) is not shown
        userinfo = value.split("//", 1)[-1].rsplit("@", 1)[0]
        assert not userinfo or f"{userinfo}@" not in run.stderr


# --- KHALTI_SECRET_KEY ------------------------------------------------------------------------------------

# A digit inside every piece: a generated piece that is an English word ("production") could appear in the
# error sentence itself, which is not an echo of the key.
TOKEN = st.text(string.ascii_letters + string.digits, min_size=6, max_size=38).map(lambda t: f"k{t}7")
BAD_IN_KEY = st.one_of(
    st.sampled_from(["\n", "\r\n", "\t", " ", "\x7f", "\x1b", "\u2028", "\u00a0", "é", "क", "🙂", "\x0b"]),
    st.text(st.characters(min_codepoint=0x80, blacklist_categories=["Cs"]), min_size=1, max_size=4),
)


@PROPERTY
@given(head=TOKEN, bad=BAD_IN_KEY, tail=TOKEN, command=COMMANDS)
@example(head="05bf95cc57244045", bad="\n", tail="b8df5fad06748dab", command=("initiate", "NEW"))
def test_unusable_keys_are_configuration_errors_and_never_echoed(
    cli: Cli, office: Path, head: str, bad: str, tail: str, command: tuple[str, ...]
) -> None:
    tried("KHALTI_SECRET_KEY values")
    run = check(cli, office, command, "KHALTI_SECRET_KEY", head + bad + tail)
    assert head not in run.stderr and tail not in run.stderr


def test_a_very_long_key_is_a_configuration_error(cli: Cli, office: Path) -> None:
    check(cli, office, ("initiate", "NEW"), "KHALTI_SECRET_KEY", "a" * 100_000)
