"""The payment page a payer sees at each payment_url: log in as a test Khalti ID and pay, or cancel.

Self-contained HTML (inline CSS, no scripts, no external assets); every value that came from a
request is escaped.
"""

from __future__ import annotations

import secrets
from html import escape
from typing import Any
from urllib.parse import parse_qs

from . import callback
from .errors import SandboxError
from .payment import CANCELED, COMPLETED, EXPIRED, INITIATED, PENDING
from .reply import Reply, html_reply, redirect_reply
from .state import SandboxState

# The documented sandbox logins (reference 8).
TEST_IDS = tuple(f"98000000{n:02d}" for n in range(6))
TEST_MPIN = "1111"

_CSS = """
body{font-family:system-ui,sans-serif;background:#f3f0f8;color:#222;margin:0;padding:2rem 1rem}
main{max-width:26rem;margin:auto;background:#fff;border-radius:12px;padding:1.5rem;
box-shadow:0 2px 12px #0002}
h1{color:#5c2d91;font-size:1.4rem;margin:.2rem 0 1rem}
.badge{display:inline-block;background:#fde68a;color:#713f12;border-radius:6px;padding:.1rem .5rem;
font-size:.8rem}
dl{display:grid;grid-template-columns:auto 1fr;gap:.3rem 1rem;margin:0 0 1rem}dt{color:#666}dd{margin:0}
.amount{font-size:1.3rem;font-weight:bold}
label{display:block;margin:.6rem 0}
input{display:block;width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem}
button{width:100%;padding:.7rem;font-size:1rem;border:0;border-radius:8px;background:#5c2d91;color:#fff;
margin-top:.6rem}
button.secondary{background:#e5e7eb;color:#222}
.error{background:#fee2e2;color:#991b1b;padding:.5rem;border-radius:6px}
.hint,.note{color:#666;font-size:.85rem}code{background:#f3f4f6;padding:0 .2rem}
"""

_MESSAGES = {
    COMPLETED: "This payment has already been paid.",
    "Refunded": "This payment was paid and has been refunded.",
    "Partially Refunded": "This payment was paid and has been partly refunded.",
    EXPIRED: "This payment link has expired. Ask the merchant for a new one.",
    CANCELED: "This payment was canceled.",
    PENDING: "This payment is being processed. Check with the merchant before paying again.",
}


def rupees(paisa: int) -> str:
    """Rs. 1,500.50 from 150050 paisa, with integer arithmetic only."""
    sign = "-" if paisa < 0 else ""
    whole, cents = divmod(abs(paisa), 100)
    return f"Rs. {sign}{whole:,}.{cents:02d}"


def _document(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>\n"
        '<body><main><span class="badge">Khalti sandbox: no real money</span>\n'
        f"{body}\n</main></body></html>\n"
    )


def _summary(p: dict[str, Any]) -> str:
    return (
        f"<dl><dt>Order</dt><dd>{escape(p['purchase_order_name'])}</dd>"
        f"<dt>Order id</dt><dd>{escape(p['purchase_order_id'])}</dd>"
        f"<dt>Merchant</dt><dd>{escape(p['website_url'])}</dd>"
        f'<dt>Amount</dt><dd class="amount">{rupees(p["amount"])}</dd></dl>'
    )


def payment_page(p: dict[str, Any], error: str | None = None, mobile: str = "") -> str:
    pidx = escape(p["pidx"])
    alert = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    form = (
        f'<form method="post" action="/pay"><input type="hidden" name="pidx" value="{pidx}">'
        f'<label>Khalti ID <input name="mobile" value="{escape(mobile)}" inputmode="numeric" '
        'autocomplete="off" required></label>'
        '<label>MPIN <input name="mpin" type="password" inputmode="numeric" required></label>'
        f'<button type="submit">Pay {rupees(p["amount"])}</button></form>'
        f'<form method="post" action="/cancel"><input type="hidden" name="pidx" value="{pidx}">'
        '<button type="submit" class="secondary">Cancel</button></form>'
        f'<p class="hint">Test Khalti IDs {TEST_IDS[0]} to {TEST_IDS[-1]}, MPIN {TEST_MPIN}.</p>'
    )
    return _document(f"Pay {p['purchase_order_name']}", f"<h1>Pay with Khalti</h1>{_summary(p)}{alert}{form}")


def status_page(p: dict[str, Any]) -> str:
    message = _MESSAGES.get(p["status"], f"This payment is {p['status']}.")
    body = f'<h1>{escape(message)}</h1>{_summary(p)}<p class="note">Status: <code>{escape(p["status"])}</code></p>'
    return _document(message, body)


def unknown_page(pidx: str) -> Reply:
    body = f"<h1>Payment not found</h1><p>There is no payment with pidx <code>{escape(pidx)}</code>.</p>"
    return html_reply(404, _document("Payment not found", body))


def index_page(count: int) -> str:
    ids = "".join(f"<li><code>{i}</code></li>" for i in TEST_IDS)
    body = (
        "<h1>Khalti sandbox</h1><p>A local emulator of Khalti's ePayment API, for training, demos and "
        f"tests. It holds {count} payment(s) in memory; they are lost when it stops.</p>"
        f"<p>Pay on a <code>payment_url</code> page with one of these test Khalti IDs and MPIN "
        f"<code>{TEST_MPIN}</code>:</p><ul>{ids}</ul>"
        '<p class="note">API: <code>POST /api/v2/epayment/initiate/</code>, '
        "<code>POST /api/v2/epayment/lookup/</code>, "
        "<code>POST /api/merchant-transaction/&lt;transaction_id&gt;/refund/</code>. "
        "Control: <code>/sandbox/payments</code>, <code>/sandbox/faults</code>.</p>"
    )
    return _document("Khalti sandbox", body)


def get_page(state: SandboxState, query: str) -> Reply:
    """GET / (the index) or GET /?pidx=... (the payment page)."""
    pidx = (parse_qs(query).get("pidx") or [""])[0].strip().rstrip("/")  # an early docs sample had a stray /
    if not pidx:
        return html_reply(200, index_page(len(state.all())))
    payment = state.get(pidx)
    if payment is None:
        return unknown_page(pidx)
    if payment["status"] != INITIATED:
        return html_reply(200, status_page(payment))
    return html_reply(200, payment_page(payment))


def post_page(state: SandboxState, action: str, raw: bytes) -> Reply:
    """POST /pay or /cancel from the payment page's forms."""
    form = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)

    def field(name: str) -> str:
        return (form.get(name) or [""])[0].strip()

    pidx = field("pidx")
    payment = state.get(pidx)
    if payment is None:
        return unknown_page(pidx)
    if payment["status"] != INITIATED:
        return html_reply(200, status_page(payment))
    try:
        if action == "cancel":
            return redirect_reply(callback.cancel_url(state.cancel(pidx)))
        mobile = field("mobile")
        mpin_ok = secrets.compare_digest(field("mpin").encode(), TEST_MPIN.encode())
        if mobile not in TEST_IDS or not mpin_ok:
            # A wrong login changes nothing: the same page again, with the error.
            return html_reply(200, payment_page(payment, "Invalid Khalti ID or MPIN.", mobile))
        return redirect_reply(callback.success_url(state.complete(pidx, mobile=mobile)))
    except SandboxError:
        # The link changed state between our read and the action (expired, paid elsewhere...).
        latest = state.get(pidx)
        return html_reply(200, status_page(latest if latest is not None else payment))


def return_page(state: SandboxState, query: str) -> Reply:
    """GET /return: the sandbox's own return page, for a return_url that points at the sandbox (training
    without a merchant site). It shows the link's state as the sandbox knows it, never the query string's."""
    pidx = (parse_qs(query).get("pidx") or [""])[0].strip()
    payment = state.get(pidx) if pidx else None
    if payment is None:
        return unknown_page(pidx)
    body = (
        "<h1>Back from Khalti</h1><p>This is the sandbox's own return page: a merchant's site would now look "
        f"the payment up (<code>khalti lookup {escape(pidx)}</code>).</p>{_summary(payment)}"
        f'<p class="note">Status: <code>{escape(payment["status"])}</code></p>'
    )
    return html_reply(200, _document("Back from Khalti", body))
