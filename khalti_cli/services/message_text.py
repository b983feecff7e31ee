"""What a message to a parent says: templates, their placeholders, and the facts they are filled with
(the pay page's link when there is one, dates in BS as people here read them).

A template is plain text with placeholders in braces, `{payer}`; `{{` and `}}` are literal braces.
Every placeholder is checked before anything is sent. Values are put in once (a payer named
"{pay_url}" stays a name), and no value can add a line: names are stored without control characters.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

from khalti_cli.calendar import for_people
from khalti_cli.clock import now, parse
from khalti_cli.errors import InvalidInput
from khalti_cli.money import format_rupees

NEPAL = timezone(timedelta(hours=5, minutes=45))  # Asia/Kathmandu: no daylight saving
KINDS = ("fee", "reminder", "thanks")
PLACEHOLDERS = {
    "fee": ("school", "payer", "fee", "amount", "due_date", "pay_url", "order_id"),
    "reminder": ("school", "payer", "fee", "amount", "due_date", "pay_url", "order_id"),
    "thanks": ("school", "payer", "fee", "amount", "order_id", "receipt_no", "paid_date"),
}

DEFAULTS: dict[str, dict[str, str]] = {
    "ne": {
        "fee": "{school}: {payer} को {fee} रु. {amount} तिर्नुहोस्, अन्तिम मिति {due_date}। खल्तीबाट: {pay_url}",
        "reminder": "{school}: सम्झना, {payer} को {fee} रु. {amount} अझै बाँकी छ। खल्तीबाट तिर्नुहोस्: {pay_url}",
        "thanks": "{school}: धन्यवाद! {payer} को {fee} रु. {amount} प्राप्त भयो। रसिद नं. {receipt_no}",
    },
    "en": {
        "fee": "{school}: {fee} for {payer}, Rs {amount}, due {due_date}. Pay with Khalti: {pay_url}",
        "reminder": "{school}: reminder: {fee} for {payer}, Rs {amount}, is not paid yet. Pay with Khalti: {pay_url}",
        "thanks": "{school}: thank you! Rs {amount} for {fee} ({payer}) received. Receipt no. {receipt_no}",
    },
}
SUBJECTS = {
    "fee": "{school}: {fee} ({payer})",
    "reminder": "{school}: reminder, {fee} ({payer})",
    "thanks": "{school}: receipt {receipt_no} ({payer})",
}

_DEVANAGARI_DIGITS = str.maketrans("०१२३४५६७८९", "0123456789")
_MOBILE = re.compile(r"9[678]\d{8}")


# --- the links and dates of a message -------------------------------------------------------------


def message_link(record: dict[str, Any]) -> str:
    """The link a parent pays at: the pay page's durable `pay_url` when KHALTI_PUBLIC_URL is set (notify
    gives every payable fee its token before writing, see notify.with_pay_urls), else the Khalti link while
    it can still be paid; "" when there is none (a created fee, an expired or canceled link)."""
    if record.get("pay_url"):
        return str(record["pay_url"])
    url, expires = record.get("payment_url"), record.get("expires_at")
    if not url or record.get("status") not in ("initiated", "pending"):
        return ""
    if expires and parse(str(expires)) <= now():
        return ""
    return str(url)


def day_text(moment: object) -> str:
    """A stored moment's day in Nepal, as people read it: BS (YYYY-MM-DD), or Gregorian with
    KHALTI_CALENDAR=ad (or for a day past the calendar's data)."""
    if not moment:
        return ""
    return for_people(parse(str(moment)).astimezone(NEPAL).date(), both=False)


def due_date_text(record: dict[str, Any]) -> str:
    """The fee's due date for people: BS through khalti_cli.calendar, Gregorian with KHALTI_CALENDAR=ad."""
    return day_text(record.get("due_date") or record.get("created_at"))


# ---------------------------------------------------------------------------------------------------


def nepali_mobile(value: str | None, who: str) -> str:
    """A Nepali mobile number as Sparrow SMS takes it (10 digits, 98/97/96...), or InvalidInput.

    Accepts +977 / 977 in front, spaces and dashes, and Devanagari digits (९८०००००००१).
    """
    text = (value or "").strip().translate(_DEVANAGARI_DIGITS)
    digits = re.sub(r"[\s\-().]", "", text)
    if digits.startswith("+977"):
        digits = digits[4:]
    elif digits.startswith("977") and len(digits) == 13:
        digits = digits[3:]
    if not _MOBILE.fullmatch(digits):
        raise InvalidInput(
            f"{who}: the phone {(value or '')[:30]!r} is not a Nepali mobile number (10 digits starting "
            "with 98, 97 or 96, optionally +977 in front). Fix it with: khalti payers update REF --phone NUMBER."
        )
    return digits


@dataclass(frozen=True)
class Template:
    text: str
    subject: str
    source: str  # "default (ne)" or the file's name

    def render(self, values: dict[str, str]) -> str:
        return self.text.format_map(values).strip()

    def render_subject(self, values: dict[str, str]) -> str:
        return " ".join(self.subject.format_map(values).split())


def check_placeholders(text: str, kind: str, source: str) -> None:
    allowed = PLACEHOLDERS[kind]
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise InvalidInput(f"The template {source} has a stray brace ({exc}); write {{{{ or }}}} for one.") from None
    for _literal, name, spec, conversion in fields:
        if name is None:
            continue
        if name not in allowed or spec or conversion:
            shown = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            raise InvalidInput(
                f"The template {source} has the placeholder {shown}, which a {kind} message does not know. "
                f"Use only: {', '.join('{' + a + '}' for a in allowed)}. Nothing was sent."
            )


def load_template(kind: str, lang: str, path: str | None) -> Template:
    """The default for the kind and language, or a file: its first line may be `Subject: ...` for email."""
    subject = SUBJECTS[kind]
    if path is None:
        template = Template(DEFAULTS[lang][kind], subject, f"default ({lang})")
    else:
        try:
            raw = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"Cannot read the template {path}: {exc.__class__.__name__}.") from None
        first, _, rest = raw.partition("\n")
        if first.lower().startswith("subject:"):
            subject, raw = first[len("subject:") :].strip(), rest
        if not raw.strip():
            raise InvalidInput(f"The template {path} is empty.")
        template = Template(raw, subject, path)
    check_placeholders(template.text, kind, template.source)
    check_placeholders(template.subject, kind, template.source)
    return template


def values_for(record: dict[str, Any], school: str, receipt_no: str | None = None) -> dict[str, str]:
    """A payment's facts as a template fills them in."""
    paid = record.get("paid_at") or record.get("updated_at")
    return {
        "school": school,
        "payer": str(record.get("customer_name") or record.get("payer_name") or ""),
        "fee": str(record["name"]),
        "amount": format_rupees(int(record["amount_paisa"])).removeprefix("Rs "),
        "due_date": due_date_text(record),
        "pay_url": message_link(record),
        "order_id": str(record["order_id"]),
        "receipt_no": receipt_no or "",
        "paid_date": day_text(paid),
    }
