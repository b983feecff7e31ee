"""Settings with the contract's precedence: options > environment > env file > defaults.

The env file is read into a dict (never into os.environ), so real environment variables always win and
nothing we read leaks into child processes. The secret key is wrapped so that no repr, f-string or
traceback can show it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from khalti_cli.errors import ConfigError
from khalti_cli.output import printable
from khalti_cli.webaddress import is_loopback
from khalti_cli.webaddress import normalise_base_url as normalise_base_url  # its old home, kept

ENVIRONMENTS = ("sandbox", "production")
DEFAULT_BASE_URLS = {"sandbox": "https://dev.khalti.com", "production": "https://khalti.com"}
VARIABLES = (
    "KHALTI_SECRET_KEY",
    "KHALTI_ENV",
    "KHALTI_BASE_URL",
    "KHALTI_WEBSITE_URL",
    "KHALTI_RETURN_URL",
    "KHALTI_DB",
    "KHALTI_TIMEOUT",
    "KHALTI_SCHOOL_NAME",
    "KHALTI_PUBLIC_URL",
    "KHALTI_PENDING_REVIEW_HOURS",
    "KHALTI_SMS_TOKEN",
    "KHALTI_SMS_FROM",
    "KHALTI_SMS_URL",
    "KHALTI_SMTP_URL",
    "KHALTI_SMTP_PASSWORD",
    "KHALTI_SMTP_FROM",
    "KHALTI_QUIET_HOURS",
)
DEFAULT_PENDING_REVIEW_HOURS = 24
DEFAULT_SMS_URL = "https://api.sparrowsms.com/v2"


class Secret:
    """Holds the merchant key; prints as '***' everywhere except where it is sent."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __reduce__(self) -> str:  # never pickled into anything
        raise TypeError("the secret key cannot be serialised")


@dataclass(frozen=True)
class Settings:
    env: str
    base_url: str
    secret_key: Secret | None
    website_url: str | None
    return_url: str | None
    db_path: Path
    timeout_ms: int = 15000
    school_name: str = "School"
    # the pay page's address (khalti serve), without a trailing slash; None: no pay page
    public_url: str | None = None
    # a payment Khalti keeps reporting Pending for longer than this goes to review ("ask Khalti")
    pending_review_hours: int = DEFAULT_PENDING_REVIEW_HOURS
    calendar: str = "bs"  # KHALTI_CALENDAR: dates people read in BS, or "ad" (Gregorian)
    env_file: Path | None = None
    warnings: tuple[str, ...] = field(default=())
    messaging: Messaging = field(default_factory=lambda: Messaging())

    def require_key(self) -> str:
        """The key for a call to Khalti, after the production safety check."""
        if self.secret_key is None or not self.secret_key.reveal().strip():
            where = f"the env file {self.env_file}" if self.env_file else "a .env file in this folder (none found)"
            raise ConfigError(
                f"No Khalti secret key is set. Put KHALTI_SECRET_KEY=<your secret key> in {where} or the "
                "environment (for Khalti's sandbox, the key from test-admin.khalti.com). To try khalti without "
                "Khalti, run a local sandbox in another terminal: khalti sandbox, then set "
                "KHALTI_BASE_URL=http://127.0.0.1:8765 and KHALTI_SECRET_KEY=test."
            )
        check_key_shape(self.secret_key)
        check_base_url_safe(self.env, self.base_url)
        return self.secret_key.reveal().strip()

    def require_urls(self) -> tuple[str, str]:
        """(website_url, return_url) for initiate."""
        if not self.website_url:
            raise ConfigError(
                "KHALTI_WEBSITE_URL is not set. Set it to the school's website, "
                "for example KHALTI_WEBSITE_URL=https://school.edu.np, in .env or the environment."
            )
        return self.website_url, self.effective_return_url or self.website_url

    @property
    def effective_return_url(self) -> str | None:
        """KHALTI_RETURN_URL, else the pay page's /return when KHALTI_PUBLIC_URL is set."""
        if self.return_url:
            return self.return_url
        return f"{self.public_url}/return" if self.public_url else None

    def require_public_url(self) -> str:
        """The pay page's address, checked: set, and https in production."""
        if not self.public_url:
            raise ConfigError(
                "KHALTI_PUBLIC_URL is not set: the pay page needs the address parents reach it at, "
                "for example KHALTI_PUBLIC_URL=https://fees.school.edu.np, in .env or the environment."
            )
        check_public_url_safe(self.env, self.public_url)
        return self.public_url


@dataclass(frozen=True)
class Messaging:
    """Where messages to parents go: Sparrow SMS and an SMTP server. The token and password are Secrets."""

    sms_token: Secret | None = None
    sms_from: str | None = None
    sms_url: str = DEFAULT_SMS_URL
    smtp_url: str | None = None
    smtp_password: Secret | None = None
    smtp_from: str | None = None
    quiet_hours: str | None = None

    def require_sms(self) -> tuple[str, str, str]:
        """(API root, token, sender identity) for sending SMS."""
        if self.sms_token is None or not self.sms_token.reveal().strip():
            raise ConfigError(
                "No SMS token is set. Put KHALTI_SMS_TOKEN=<token from Sparrow SMS> in the .env file or the "
                "environment (for training, the sandbox accepts any token)."
            )
        if not self.sms_from:
            raise ConfigError("KHALTI_SMS_FROM is not set. Set it to the sender identity Sparrow SMS gave you.")
        parts = urlsplit(self.sms_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"KHALTI_SMS_URL {self.sms_url!r} is not a web address, like {DEFAULT_SMS_URL}.")
        if parts.scheme != "https" and not is_loopback(parts.hostname):
            raise ConfigError(
                "KHALTI_SMS_URL must use https (the token travels in each request); plain http is allowed only "
                "to this machine, e.g. the sandbox."
            )
        return self.sms_url.rstrip("/"), self.sms_token.reveal().strip(), self.sms_from

    def require_smtp(self) -> tuple[str, str | None]:
        """(KHALTI_SMTP_URL, password or None) for sending email."""
        if not self.smtp_url:
            raise ConfigError(
                "KHALTI_SMTP_URL is not set. Set it to the school's mail server, e.g. "
                "smtp://fees@school.edu.np@mail.school.edu.np:587, and the password in KHALTI_SMTP_PASSWORD."
            )
        return self.smtp_url, self.smtp_password.reveal() if self.smtp_password else None


_KEY_MAX = 512


def check_key_shape(key: Secret) -> None:
    """Khalti's keys are short ASCII tokens; anything else would break the Authorization header. The key is
    never echoed, not even in part."""
    value = key.reveal().strip()
    if not value:
        return
    if len(value) > _KEY_MAX or not all("!" <= ch <= "~" for ch in value):
        raise ConfigError(
            "KHALTI_SECRET_KEY is not a Khalti key: it holds spaces, line breaks, control characters or "
            "letters outside ASCII, or is very long. Copy the live secret key again from the merchant "
            "dashboard (test-admin.khalti.com for the sandbox, admin.khalti.com for production)."
        )


def check_base_url_safe(env: str, base_url: str) -> None:
    """In production the key only ever goes over https to khalti.com or a subdomain."""
    if env != "production":
        return
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not (host == "khalti.com" or host.endswith(".khalti.com")):
        raise ConfigError(
            f"Refusing to send the production key to {base_url}: in production only https://khalti.com "
            "(or a subdomain) is allowed. Fix KHALTI_BASE_URL or use KHALTI_ENV=sandbox."
        )


TIMEOUT_MAX_S = 300


def parse_timeout(text: str | None) -> int:
    """KHALTI_TIMEOUT in seconds (decimals allowed) -> milliseconds: the deadline of one whole request."""
    if text is None:
        return 15000
    from decimal import Decimal, InvalidOperation  # only here: about 10 ms of start-up otherwise

    shown = printable(text)[:40]
    try:
        seconds = Decimal(text.strip())
    except (InvalidOperation, ValueError):
        raise ConfigError(f"KHALTI_TIMEOUT must be a number of seconds, such as 15, not {shown!r}.") from None
    # Compared as a Decimal first: inf, nan and 1e999999999 never reach int().
    if not seconds.is_finite() or not 0 < seconds <= TIMEOUT_MAX_S or int(seconds * 1000) < 1:
        raise ConfigError(
            f"KHALTI_TIMEOUT must be a number of seconds above 0 and at most {TIMEOUT_MAX_S}, not {shown!r}."
        )
    return int(seconds * 1000)


def normalise_public_url(value: str) -> str:
    """KHALTI_PUBLIC_URL: an http(s) address with a host, no query or fragment; no trailing slash."""
    url = value.strip().rstrip("/")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
        bad_port = False
    except ValueError:
        parts, bad_port = urlsplit(""), True
    if (
        bad_port
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or parts.username
        or any(ch.isspace() or ch in "\"'<>\\" for ch in url)
    ):
        raise ConfigError(
            f"KHALTI_PUBLIC_URL {value!r} is not a plain web address. Use one like https://fees.school.edu.np "
            "(no query string, no user name)."
        )
    return url


def check_public_url_safe(env: str, public_url: str) -> None:
    """Parents' links carry a secret token: in production only over https."""
    if env == "production" and urlsplit(public_url).scheme != "https":
        raise ConfigError(
            f"KHALTI_PUBLIC_URL {public_url} is not https: in production the pay page must be served over "
            "https (the link carries the payment's token). Put it behind an https reverse proxy and set "
            "KHALTI_PUBLIC_URL=https://..."
        )


def default_db_path() -> Path:
    from platformdirs import user_data_path

    return user_data_path("khalti", appauthor=False) / "khalti.db"


def read_env_file(path: Path) -> dict[str, str]:
    from dotenv import dotenv_values

    try:
        values = dotenv_values(path, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Could not read the env file {path}: {exc.__class__.__name__}.") from None
    return {k: v for k, v in values.items() if v is not None}


def _permission_warning(path: Path, values: Mapping[str, str]) -> str | None:
    if not {"KHALTI_SECRET_KEY", "KHALTI_SMS_TOKEN", "KHALTI_SMTP_PASSWORD"} & set(values):
        return None
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return f"Warning: {path} holds a secret and other users can read it. Run: chmod 600 {path}"
    return None


def load_settings(
    *,
    db: str | None = None,
    env_file: str | None = None,
    env: str | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else cwd
    warnings: list[str] = []

    explicit = env_file or environ.get("KHALTI_ENV_FILE")
    file_path: Path | None
    if explicit:
        file_path = Path(explicit).expanduser()
        if not file_path.is_absolute():
            file_path = cwd / file_path
        if not file_path.is_file():
            raise ConfigError(f"The env file {file_path} does not exist. Check --env-file / KHALTI_ENV_FILE.")
    else:
        candidate = cwd / ".env"
        file_path = candidate if candidate.is_file() else None
    file_values = read_env_file(file_path) if file_path else {}
    if file_path:
        warning = _permission_warning(file_path, file_values)
        if warning:
            warnings.append(warning)

    def get(name: str) -> str | None:
        value = environ.get(name)
        if value is None or value == "":
            value = file_values.get(name)
        return value if value not in (None, "") else None

    chosen_env = (env or get("KHALTI_ENV") or "sandbox").strip().lower()
    if chosen_env not in ENVIRONMENTS:
        raise ConfigError(f"KHALTI_ENV must be 'sandbox' or 'production', not {chosen_env!r}.")
    base_url = normalise_base_url(get("KHALTI_BASE_URL") or DEFAULT_BASE_URLS[chosen_env])

    db_value = db or get("KHALTI_DB")
    db_path = Path(db_value).expanduser() if db_value else default_db_path()
    if not db_path.is_absolute():
        db_path = cwd / db_path

    timeout_ms = parse_timeout(get("KHALTI_TIMEOUT"))

    public_text = get("KHALTI_PUBLIC_URL")
    public_url = normalise_public_url(public_text) if public_text else None
    hours_text = get("KHALTI_PENDING_REVIEW_HOURS")
    pending_hours = DEFAULT_PENDING_REVIEW_HOURS
    if hours_text:
        text = hours_text.strip()
        if not (text.isascii() and text.isdigit() and 1 <= int(text) <= 24 * 90):
            raise ConfigError(
                f"KHALTI_PENDING_REVIEW_HOURS must be a whole number of hours from 1 to 2160, not {hours_text!r}."
            )
        pending_hours = int(text)

    calendar = (get("KHALTI_CALENDAR") or "bs").strip().lower()
    if calendar not in ("bs", "ad"):
        raise ConfigError(f"KHALTI_CALENDAR must be 'bs' (Bikram Sambat) or 'ad' (Gregorian), not {calendar!r}.")

    key = get("KHALTI_SECRET_KEY")
    return Settings(
        env=chosen_env,
        base_url=base_url,
        secret_key=Secret(key) if key else None,
        website_url=get("KHALTI_WEBSITE_URL"),
        return_url=get("KHALTI_RETURN_URL"),
        db_path=db_path,
        timeout_ms=timeout_ms,
        school_name=get("KHALTI_SCHOOL_NAME") or "School",
        public_url=public_url,
        pending_review_hours=pending_hours,
        calendar=calendar,
        env_file=file_path,
        warnings=tuple(warnings),
        messaging=_messaging(get),
    )


def _messaging(get: Callable[[str], str | None]) -> Messaging:
    token, password = get("KHALTI_SMS_TOKEN"), get("KHALTI_SMTP_PASSWORD")
    return Messaging(
        sms_token=Secret(token) if token else None,
        sms_from=get("KHALTI_SMS_FROM"),
        sms_url=get("KHALTI_SMS_URL") or DEFAULT_SMS_URL,
        smtp_url=get("KHALTI_SMTP_URL"),
        smtp_password=Secret(password) if password else None,
        smtp_from=get("KHALTI_SMTP_FROM"),
        quiet_hours=get("KHALTI_QUIET_HOURS"),
    )
