"""`khalti doctor`: the configuration checked end to end, one line per item.

Each check returns a Check; nothing here prints. Checks that contact Khalti or the pay page make one
small request each and change nothing (a lookup of a pidx that does not exist).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from khalti_cli.config import Settings, check_base_url_safe, check_public_url_safe
from khalti_cli.errors import AuthError, ConfigError, GatewayRejected, KhaltiError

# A pidx no merchant has: Khalti answers "Not found." once the key is accepted, 401 when it is not.
PROBE_PIDX = "khaltiDoctorProbe000000"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None  # None: a note, not a pass or a failure
    detail: str


def _key(settings: Settings) -> Check:
    name = "secret key accepted by Khalti"
    try:
        key = settings.require_key()
    except ConfigError as exc:
        return Check(name, False, str(exc))
    from khalti_cli.gateway.client import KhaltiClient
    from khalti_cli.retry import NO_RETRY

    where = f"{settings.env}, {settings.base_url}"
    try:
        with KhaltiClient(settings.base_url, key, timeout_ms=min(settings.timeout_ms, 10_000), retry=NO_RETRY) as c:
            answer = c.lookup_once(PROBE_PIDX)
    except AuthError:
        return Check(name, False, f"Khalti answered 401 ({where}): the key is wrong. Fix KHALTI_SECRET_KEY.")
    except GatewayRejected as exc:
        if "not found" in str(exc).lower():
            return Check(name, True, f"a lookup of an unknown pidx answered 'Not found.' ({where})")
        return Check(name, False, f"unexpected answer ({where}): {exc}")
    except KhaltiError as exc:
        return Check(name, False, f"{where}: {exc}")
    if answer.status == "not_found":
        return Check(name, True, f"a lookup of an unknown pidx answered 'Not found.' ({where})")
    return Check(name, False, f"Khalti answered {answer.status!r} for a pidx that cannot exist ({where}).")


def _urls(settings: Settings) -> Iterator[Check]:
    try:
        check_base_url_safe(settings.env, settings.base_url)
        yield Check("Khalti address", True, f"{settings.base_url} ({settings.env})")
    except ConfigError as exc:
        yield Check("Khalti address", False, str(exc))
    production = settings.env == "production"
    if not settings.website_url:
        yield Check("website URL", False, "KHALTI_WEBSITE_URL is not set: initiate needs it.")
    else:
        bad = production and urlsplit(settings.website_url).scheme != "https"
        yield Check("website URL", not bad, settings.website_url + (" is not https" if bad else ""))
    ret = settings.effective_return_url or settings.website_url
    if ret:
        bad = production and urlsplit(ret).scheme != "https"
        note = ""
        if settings.public_url and ret != f"{settings.public_url}/return":
            note = f" (not the pay page's {settings.public_url}/return: parents will not see the outcome there)"
        yield Check("return URL", not bad, ret + (" is not https" if bad else "") + note)
    if not settings.public_url:
        yield Check("pay page URL", None, "KHALTI_PUBLIC_URL is not set: no pay page; slips carry 60-minute links.")
        return
    try:
        check_public_url_safe(settings.env, settings.public_url)
        yield Check("pay page URL", True, settings.public_url)
    except ConfigError as exc:
        yield Check("pay page URL", False, str(exc))


def _database(settings: Settings) -> Iterator[Check]:
    path = settings.db_path
    from khalti_cli.store import open_store

    try:
        store = open_store(path)
    except KhaltiError as exc:
        yield Check("database", False, str(exc))
        return
    try:
        mode = store.conn.execute("PRAGMA journal_mode").fetchone()[0]
        count = store.conn.execute("SELECT COUNT(*) FROM payments").fetchone()[0]
    finally:
        store.close()
    yield Check("database", mode.lower() == "wal", f"{path}: {count} payment(s), journal {mode}")
    file_mode = stat.S_IMODE(os.stat(path).st_mode)
    private = not file_mode & (stat.S_IRWXG | stat.S_IRWXO)
    yield Check(
        "database permissions",
        private,
        f"{oct(file_mode)}" + ("" if private else f": other users can read customer data. Run: chmod 600 {path}"),
    )
    folder_mode = stat.S_IMODE(os.stat(path.parent).st_mode)
    open_folder = bool(folder_mode & stat.S_IWOTH) and not folder_mode & stat.S_ISVTX
    yield Check(
        "database folder",
        not open_folder,
        f"{path.parent} {oct(folder_mode)}" + (": anyone can replace files in it" if open_folder else ""),
    )


def _pay_page(settings: Settings) -> Check:
    name = "pay page reachable"
    url = f"{settings.public_url}/healthz"
    from khalti_cli.errors import GatewayUnreachable
    from khalti_cli.gateway.probe import get_text

    try:
        status, text = get_text(url)
    except GatewayUnreachable as exc:
        return Check(name, False, f"{url}: {exc}. Is khalti serve running, and the proxy?")
    ok = status == 200 and text.strip() == "ok"
    return Check(name, ok, f"{url}: HTTP {status}" + ("" if ok else ", not the pay page's 'ok'"))


def run_checks(settings: Settings) -> Iterator[Check]:
    for warning in settings.warnings:
        yield Check("env file", False, warning)
    yield from _urls(settings)
    yield from _database(settings)
    yield _key(settings)
    if settings.public_url:
        yield _pay_page(settings)
    if settings.env == "production":
        yield Check(
            "Khalti limit",
            None,
            "until the merchant's KYC is complete, Khalti accepts at most Rs 200 per payment: finish KYC at "
            "admin.khalti.com before taking fees.",
        )
