"""Fee slips: a PNG per payment whose QR code decodes back to the payment URL, with Nepali text drawn in a
Devanagari font; refused for a payment without a live link; ids from stdin; written by import --slips."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from conftest import Cli
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops

from khalti_cli.sandbox import SandboxServer
from khalti_cli.services import slips


@pytest.fixture
def school(monkeypatch: pytest.MonkeyPatch) -> str:
    name = "श्री सरस्वती माध्यमिक विद्यालय"
    monkeypatch.setenv("KHALTI_SCHOOL_NAME", name)
    return name


def decode_qr(path: Path) -> list[str]:
    with Image.open(path) as image:
        return [result.text for result in zxingcpp.read_barcodes(image.convert("L"))]


def test_slip_qr_decodes_to_the_payment_url(cli: Cli, configured: SandboxServer, isolated: Path, school: str) -> None:
    assert cli("payers", "add", "S-101", "--name", "सीता शर्मा", "--class", "Grade 5").exit_code == 0
    made = cli(
        "create",
        "--amount",
        "1,500.50",
        "--name",
        "मंसिर शिक्षण शुल्क",
        "--payer",
        "S-101",
        "--order-id",
        "SL/1#a",
        "--initiate",
    )
    assert made.exit_code == 0, made.stderr
    url = made.stdout.strip()
    run = cli("slips", "SL/1#a", "--out", "slips")
    assert run.exit_code == 0, run.stderr
    assert run.stderr == ""  # the Devanagari font is installed: no warning
    path = Path(run.stdout.strip())
    assert path == Path("slips") / "SL%2F1%23a.png"  # files.record_file_name
    with Image.open(isolated / path) as image:
        assert image.format == "PNG" and image.size == (slips.WIDTH, slips.HEIGHT)
        assert image.info.get("dpi", (0, 0))[0] == pytest.approx(300, abs=1)
    assert decode_qr(isolated / path) == [url]


def test_devanagari_is_drawn_with_real_glyphs() -> None:
    """The font has Devanagari (no empty boxes) and shaping joins the conjuncts."""
    assert slips.font_file() is not None, "pip install fontpkg-noto-sans-devanagari"
    assert slips.font_note() is None
    font = slips._font(48)
    tofu = font.getmask("\U000e0fff").getbbox()  # an unassigned code point: the font's empty box, if any
    for text in ("सीता", "श्री", "क्ष"):
        mask = font.getmask(text)
        assert mask.getbbox() is not None and mask.getbbox() != tofu, text
    # Raqm shapes क + ् + ष into one conjunct: narrower than the three drawn side by side.
    assert font.getlength("क्ष") < font.getlength("क") + font.getlength("ष")


def test_slip_shows_the_details(configured: SandboxServer) -> None:
    """Rendered twice with a different payer name: the pictures differ where the name is drawn."""
    record = {
        "order_id": "X-1",
        "name": "Tuition",
        "amount_paisa": 150050,
        "customer_name": "सीता शर्मा",
        "payer": "S-1",
        "reference": "S-1",
        "payment_url": configured.url + "/?pidx=abc",
        "expires_at": "2026-11-27T06:45:00.000+00:00",
        "status": "initiated",
    }
    one = slips.render_slip(record, "School")
    other = slips.render_slip({**record, "customer_name": "राम थापा"}, "School")
    diff = ImageChops.difference(one, other).getbbox()
    assert diff is not None and diff[1] < slips.HEIGHT // 3  # only the payer line, near the top
    assert slips.nepal_time(record["expires_at"]) == "2026-11-27 12:30 (Nepal time, +05:45)"


def test_no_slip_without_a_live_link(cli: Cli, configured: SandboxServer, isolated: Path) -> None:
    assert cli("create", "--amount", "1500", "--name", "Tuition", "--order-id", "L-1").exit_code == 0
    assert cli("create", "--amount", "1500", "--name", "Tuition", "--order-id", "L-2", "--initiate").exit_code == 0
    run = cli("slips", "L-2", "L-1", "--out", "out")
    assert run.exit_code == 3
    assert "Payment L-1 has no live payment link (it is created)" in run.stderr
    assert "khalti initiate L-1" in run.stderr
    assert not (isolated / "out").exists()  # checked before any slip was drawn
    assert cli("slips", "NOPE", "--out", "out").exit_code == 3


def test_slips_read_ids_from_stdin_and_import_writes_them(
    cli: Cli, configured: SandboxServer, isolated: Path, school: str
) -> None:
    (isolated / "fees.csv").write_text(
        "order_id,amount,name,customer_name\nQ-1,1500,Tuition,सीता\nQ-2,2000,Bus,Ram\n", encoding="utf-8"
    )
    run = cli("import", "fees.csv", "--initiate", "--slips", "from-import", "--format", "jsonl")
    assert run.exit_code == 0, run.stderr
    urls = {r["order_id"]: r["payment_url"] for r in run.jsonl()}
    assert "slip: from-import/Q-1.png" in run.stderr
    for oid, url in urls.items():
        assert decode_qr(isolated / "from-import" / f"{oid}.png") == [url]
    piped = cli("slips", "-", "--out", "again", input="Q-2\n\nQ-1\n")
    assert piped.exit_code == 0, piped.stderr
    assert piped.stdout.split() == ["again/Q-2.png", "again/Q-1.png"]
    assert cli("import", "fees.csv", "--slips", "x").exit_code == 2  # --slips needs --initiate


def test_slip_files_are_private(cli: Cli, configured: SandboxServer, tmp_path: Path) -> None:
    """A slip names the payer: customer data is written 0600."""
    assert cli("create", "--amount", "1500", "--name", "Tuition", "--order-id", "PRIV-S", "--initiate").exit_code == 0
    run = cli("slips", "PRIV-S", "--out", str(tmp_path / "slips"))
    assert run.exit_code == 0, run.stderr
    assert (tmp_path / "slips" / "PRIV-S.png").stat().st_mode & 0o777 == 0o600


def test_many_slips_are_drawn_in_parallel_each_with_its_own_link(
    cli: Cli, configured: SandboxServer, isolated: Path, run_khalti: Any
) -> None:
    """Enough slips for the worker processes (the installed khalti): every file carries its own link."""
    rows = "".join(f"M-{i},{1500 + i},Tuition {i},Payer {i}\n" for i in range(slips.PARALLEL_FROM + 2))
    (isolated / "many.csv").write_text("order_id,amount,name,customer_name\n" + rows, encoding="utf-8")
    made = cli("import", "many.csv", "--initiate", "--format", "jsonl")
    assert made.exit_code == 0, made.stderr
    urls = {r["order_id"]: r["payment_url"] for r in made.jsonl()}
    run = run_khalti("slips", "-", "--out", "many", input="".join(f"{oid}\n" for oid in urls))
    assert run.exit_code == 0, run.stderr
    assert run.stdout.split() == [f"many/{oid}.png" for oid in urls]
    for oid, url in urls.items():
        assert decode_qr(isolated / "many" / f"{oid}.png") == [url]


WORDS = st.lists(
    st.sampled_from(["कक्षा", "१०", "शुल्क,", "मंसिर", "Grade", "tuition", "and", "वार्षिक", "परीक्षा", "x" * 60, " "]),
    min_size=1,
    max_size=40,
)


@settings(max_examples=40, derandomize=True, deadline=None)
@given(words=WORDS, most=st.integers(1, 3))
def test_a_long_fee_name_wraps_then_ends_with_an_ellipsis(words: list[str], most: int) -> None:
    """Every line fits; spaces never double; text is never dropped without a "…" saying so."""
    from PIL import Image, ImageDraw

    draw = ImageDraw.Draw(Image.new("RGB", (10, 10)))
    font = slips._font(slips.VALUE_SIZE, bold=True)
    width = slips.WIDTH - 2 * slips.MARGIN
    text = " ".join(words)
    lines = slips.fit_lines(draw, text, font, width, most)
    assert 1 <= len(lines) <= most
    assert all(draw.textlength(line, font=font) <= width for line in lines)
    assert not any("  " in line for line in lines)
    shown = "".join(line.removesuffix("…") for line in lines).replace(" ", "")
    whole = "".join(text.split())
    if lines[-1].endswith("…"):
        assert whole.startswith(shown) and len(shown) < len(whole)
    else:
        assert shown == whole


# --- every status a slip or a link is refused for names its real reason (issue 13) -------------------

PAID_HERE = ("completed", "partially_refunded", "paid_offline")


def test_every_status_refusal_names_its_reason_and_command(
    cli: Cli, configured: SandboxServer, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """For each status (khalti_cli.statuses.STATUSES): `slips` (Khalti's link, and the pay page's) and
    `initiate` either work or refuse with exit 3 naming the status's own way out; when a refusal says to
    run `khalti initiate`, that initiate works (no circular advice)."""
    from store_checks import backdate, write_status

    from khalti_cli.statuses import STATUSES

    db = Path("khalti.db")
    for status in STATUSES:
        oid = f"S-{status}"
        assert cli("create", "--amount", "500", "--name", "Fee", "--order-id", oid).exit_code == 0
        if status != "created":
            write_status(db, oid, status)
        if status in ("completed", "partially_refunded", "refunded"):  # paid on Khalti, the whole amount
            backdate(db, "UPDATE payments SET total_amount_paisa = 50000 WHERE order_id = ?", [oid])
        if status in ("initiated", "pending"):  # as a real link leaves them: a URL that has not expired
            sql = "UPDATE payments SET payment_url = ?, expires_at = ? WHERE order_id = ?"
            backdate(db, sql, ["https://test-pay.khalti.com/?pidx=X", "2999-01-01T00:00:00.000+00:00", oid])
    for status in STATUSES:
        oid = f"S-{status}"
        khalti_link = cli("slips", oid, "--out", f"k-{status}")
        with monkeypatch.context() as m:
            m.setenv("KHALTI_PUBLIC_URL", "https://fees.school.example.edu.np")
            pay_page = cli("slips", oid, "--out", f"p-{status}")
        initiate = cli("initiate", oid)
        said = {"slips": khalti_link.stderr, "slips (pay page)": pay_page.stderr, "initiate": initiate.stderr}
        if status in PAID_HERE:
            expected = f"khalti receipt {oid}"
        elif status == "review":
            expected = f"khalti resolve {oid}"
        elif status in ("refunded", "voided"):
            expected = f"khalti show {oid}"
        else:
            expected = None
        if expected is not None:
            for command, run in zip(said, (khalti_link, pay_page, initiate), strict=True):
                assert run.exit_code == 3, (status, command, run.stderr)
                assert expected in run.stderr and status in run.stderr, (status, command, run.stderr)
                assert "khalti initiate" not in run.stderr and "cannot be initiated" not in run.stderr
            assert khalti_link.stderr == pay_page.stderr == initiate.stderr  # one reason, said the same way
            continue
        if status == "pending":
            assert khalti_link.exit_code == 0  # its link may still be paid
            assert pay_page.exit_code == 3 and f"khalti lookup {oid}" in pay_page.stderr
            assert initiate.exit_code == 3 and "--force" in initiate.stderr
        elif status == "initiated":
            assert khalti_link.exit_code == 0 and pay_page.exit_code == 0
            assert initiate.exit_code == 3 and "--force" in initiate.stderr
        else:  # created, expired, canceled, failed: no live link; initiate makes one, as the refusal says
            assert pay_page.exit_code == 0, pay_page.stderr
            assert khalti_link.exit_code == 3 and f"make one first with: khalti initiate {oid}" in khalti_link.stderr
            assert initiate.exit_code == 0, initiate.stderr
    # A wrong amount paid and given back (refund --pidx): refunded, yet the fee is still due.
    assert cli("create", "--amount", "500", "--name", "Fee", "--order-id", "S-given-back").exit_code == 0
    write_status(db, "S-given-back", "refunded")
    backdate(db, "UPDATE payments SET total_amount_paisa = 40000 WHERE order_id = ?", ["S-given-back"])
    refused = cli("slips", "S-given-back", "--out", "given-back")
    assert refused.exit_code == 3 and "make one first with: khalti initiate S-given-back" in refused.stderr
    assert cli("initiate", "S-given-back").exit_code == 0
