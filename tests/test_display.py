"""What a person sees on a terminal, read back from tmux: Nepali names keep tables straight, payment URLs
stay whole, one record reads as a record, the pager, and the terminal QR code scans on light and dark
themes."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import Cli, run_on_terminal
from screens import aligned, cells, render_image, tmux_screen

from khalti_cli.sandbox import SandboxServer
from khalti_cli.termwidth import text_width

NAMES = ["राम बहादुर थापा", "सीता कुमारी शर्मा", "कृष्ण प्रसाद श्रेष्ठ", "गीता गिरी", "Hari Bahadur K.C."]
FEES = ["कक्षा १० शुल्क, मंसिर", "Grade 3 tuition, Poush", "परीक्षा शुल्क", "बस भाडा, पुस", "Library"]


def test_our_widths_are_what_tmux_draws() -> None:
    samples = ["राम", "सीता", "कृष्ण", "शर्मा", "श्रेष्ठ", "गिरी", "ठाकुरी", "abc", "२०८३"]
    with tmux_screen() as screen:
        for text in samples:
            drawn = screen.cursor_after(text)
            assert text_width(text) == drawn == len(cells(text)), text


def _register(cli: Cli) -> None:
    for i, (name, group) in enumerate(zip(NAMES, ["Grade 10", "Grade 3", "Grade 10", "Grade 3", "UKG"], strict=True)):
        assert cli("payers", "add", f"S-{i + 1}", "--name", name, "--class", group).exit_code == 0
    for i, fee in enumerate(FEES):
        payer = f"S-{i + 1}"
        run = cli("create", "--amount", str(1500 * 10 ** (i % 3)), "--name", fee, "--payer", payer)
        assert run.exit_code == 0, run.stderr


@pytest.mark.parametrize(("width", "height"), [(120, 40), (80, 24)])
def test_tables_with_nepali_names_line_up_in_tmux(
    cli: Cli, configured: SandboxServer, isolated: Path, width: int, height: int
) -> None:
    _register(cli)
    rows = "amount,name,customer_name\n" + "".join(
        f'{1000 + i},"{FEES[i]}","{NAMES[-1 - i]}"\n' for i in range(len(NAMES))
    )
    (isolated / "fees.csv").write_text(rows, encoding="utf-8")
    with tmux_screen({"KHALTI_PAGER": "cat", "NO_COLOR": "1"}) as screen:
        imported = screen.run(["import", "fees.csv", "--initiate"], width, height)
        if width >= 120:  # a table: the payment link column takes its full width
            at = next(i for i, line in enumerate(imported) if line.startswith("order id"))
            labels = ["order id", "payer", "fee", "amount", "status", "payment link"]
            assert aligned(imported, at, labels, right=("amount",)) == []
        else:  # too narrow for whole links in a table: a block of `label  value` lines per payment
            block = [line for line in imported if line.strip() and not line.startswith("fees.csv")]
            assert len(block) >= 6 * len(NAMES)
            value_at = len("payment link  ")
            assert all(cells(line)[value_at - 1] == " " != cells(line)[value_at] for line in block), block
        urls = [r["payment_url"] for r in cli("list", "--format", "json").json() if r["payment_url"]]
        assert len(urls) == len(NAMES)
        for url in urls:  # each link whole on one screen line: copyable
            assert any(url in line for line in imported), (url, imported)

        listed = screen.run(["list"], width, height)
        at = next(i for i, line in enumerate(listed) if line.startswith("order id"))
        assert aligned(listed, at, ["order id", "payer", "fee", "amount", "status", "created"], right=("amount",)) == []
        assert sum(1 for line in listed[at + 1 :] if line[:1] not in ("", " ")) == 2 * len(NAMES)

        payers = screen.run(["payers", "list"], width, height)
        at = next(i for i, line in enumerate(payers) if line.startswith("reference"))
        assert aligned(payers, at, ["reference", "name", "group"]) == []
        groups = [line.split()[0] for line in payers[at + 1 :] if line.startswith("S-")]
        assert groups == ["S-2", "S-4", "S-1", "S-3", "S-5"]  # Grade 3 before Grade 10, then UKG

        shown = screen.run(["payers", "show", "S-1"], width, height)
        at = next(i for i, line in enumerate(shown) if line.startswith("order id"))
        assert aligned(shown, at, ["order id", "fee", "amount", "status", "created"], right=("amount",)) == []
        assert any("Rs 1,500.00" in line for line in shown)
        assert any(line.startswith("name") and NAMES[0] in line for line in shown)


def test_long_lists_go_through_the_pager(cli: Cli) -> None:
    for i in range(40):
        assert cli("create", "--amount", "100", "--name", f"fee {i}", "--order-id", f"P-{i:02d}").exit_code == 0
    with tmux_screen({"NO_COLOR": "1"}, drop=("PAGER", "KHALTI_PAGER", "LESS")) as screen:
        screen.run(["list"], 80, 24, keys=["q"])
        page = screen.before_keys
        print("\n".join(page))
        assert page[0].startswith("order id") and "P-39" in page[1]  # the newest first, one screenful
        assert not any("P-00" in line for line in page)
        assert page[-1].startswith(":")  # less waits for a key
        short = screen.run(["list", "--limit", "5"], 80, 24)  # fits: printed as it is
        assert short[0].startswith("order id") and "P-35" in short[5]


def test_one_record_is_a_key_value_view(cli: Cli) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR",)}
    env.update(COLUMNS="80", LINES="24", KHALTI_TZ="Asia/Kathmandu")
    code, screen = run_on_terminal(["create", "--amount", "150000", "--name", "Annual fee", "--order-id", "R-1",
                                    "--format", "table"], {**env, "NO_COLOR": "1"})  # fmt: skip
    assert code == 0
    lines = screen.replace("\r", "").splitlines()
    assert any(re.fullmatch(r"order id\s+R-1\s*", line) for line in lines)
    assert any(re.fullmatch(r"amount\s+Rs 1,50,000\.00\s*", line) for line in lines)
    assert all(len(line) <= 80 for line in lines)


def test_terminal_qr_scans_on_light_and_dark_themes(cli: Cli, configured: SandboxServer) -> None:
    """With colour: one code, black on white whatever the theme. Without (NO_COLOR, --no-color): two, one
    for each theme, and on each theme exactly one scans, with no inverted-scanning help (try_invert off)."""
    zxingcpp = pytest.importorskip("zxingcpp")
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS")}
    runs = {
        "colour": (["initiate", "Q-1", "--qr"], env),
        "NO_COLOR, side by side": (["initiate", "Q-2", "--qr"], {**env, "NO_COLOR": "1", "COLUMNS": "120"}),
        "--no-color, narrow": (["--no-color", "initiate", "Q-3", "--qr"], {**env, "COLUMNS": "60"}),
    }
    for i, (label, (args, run_env)) in enumerate(runs.items()):
        order_id = f"Q-{i + 1}"
        assert cli("create", "--amount", "1500", "--name", "Tuition", "--order-id", order_id).exit_code == 0
        code, screen = run_on_terminal(args, run_env)
        assert code == 0, screen
        url = cli("show", order_id, "--format", "json").json()["payment_url"]
        assert ("\x1b[" in screen) == (label == "colour"), label
        shown = screen.replace("\r", "").splitlines()
        if label != "colour":  # the two side by side, or (too narrow) one above the other
            together = any("for a light screen" in line and "for a dark screen" in line for line in shown)
            assert together == ("side by side" in label), label
        for theme in ("light", "dark"):
            image = render_image(screen, theme)
            found = [r.text for r in zxingcpp.read_barcodes(image, try_invert=False)]
            assert found == [url], (label, theme)


def test_create_initiate_on_a_terminal_shows_the_order_id_and_link(cli: Cli, configured: SandboxServer) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update(COLUMNS="80", LINES="24", NO_COLOR="1")
    args = ["create", "--amount", "1500", "--name", "Tuition", "--order-id", "C-1", "--initiate"]
    code, screen = run_on_terminal(args, env)
    assert code == 0, screen
    url = cli("show", "C-1", "--format", "json").json()["payment_url"]
    lines = screen.replace("\r", "").splitlines()
    assert any(re.fullmatch(r"order id\s+C-1\s*", line) for line in lines)
    assert any(re.fullmatch(rf"payment link\s+{re.escape(url)}\s*", line) for line in lines)  # whole, one line
    piped = cli("create", "--amount", "1500", "--name", "Tuition", "--order-id", "C-2", "--initiate")
    assert piped.stdout.count("\n") == 1 and piped.stdout.startswith("http")  # a pipe: just the URL


# --- issue 13: what the records and the confirmations look like on a terminal ---------------------------------

_WORDS = ["Annual", "development", "infrastructure", "contribution", "laboratory", "Kathmandu", "branch",
          "Nabil", "Bank", "Cheque", "123456", "शुल्क", "वार्षिक", "विकास", "पूर्वाधार", "सहयोग", "शैक्षिक",
          "प्रयोगशाला", "कक्षा", "१०", "मंसिर", "श्रेष्ठ", "कृष्ण", "x"]  # fmt: skip


def _confirmation_lines(text: str, parts: list[str]) -> None:
    """Every line at most 80 cells as tmux draws them; each part's words come back whole, in order, with one
    space between; lines after a label's first start under the value (10 cells in)."""
    lines = text.split("\n")
    assert all(len(cells(line)) <= 80 for line in lines), [line for line in lines if len(cells(line)) > 80]
    assert all(line[:10].strip().endswith(":") or not line[:10].strip() for line in lines), lines
    assert " ".join(line[10:] for line in lines).split() == " ".join(parts).split()
    assert not any("  " in line[10:] for line in lines)


def test_confirmations_fit_80_columns_and_break_only_at_spaces() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from khalti_cli.cli.asking import fit
    from khalti_cli.services.corrections import Plan

    spaces = st.sampled_from([" ", "  ", "   "])
    text = st.lists(st.tuples(st.sampled_from(_WORDS), spaces), min_size=1, max_size=40).map(
        lambda pairs: "".join(w + s for w, s in pairs).strip()
    )

    from khalti_cli.cli.refund import describe
    from khalti_cli.services.refund import RefundPlan

    @settings(max_examples=60, derandomize=True, deadline=None)
    @given(name=text, reference=text, payer=text, partial=st.booleans())
    def check(name: str, reference: str, payer: str, partial: bool) -> None:
        what = f"paid outside Khalti (cheque, reference {reference}, on 2026-11-28); its live link is still watched"
        plan = Plan("KH-261128-QSZL9K", 1, name, payer, 15000000, "created", "paid_offline", what)
        rows = plan.rows()
        _confirmation_lines(fit(rows, 80), [p for _, parts in rows for p in parts])
        refund = RefundPlan("KH-1", 1, 1, "HT6o6PEZRWFJ5ygavzHWd5", "GFq9PFS7b2iYvL8Lir9oXe", name, payer,
                            "completed", "Completed", 15000000, 0, 5000000 if partial else 15000000, None)  # fmt: skip
        shown = describe(refund)
        _confirmation_lines(shown, [line[10:] for line in shown.split("\n")])
        fee = shown.split("\nPayer:")[0].split()[1:]  # the fee on lines of its own, under the order id
        assert fee == ["KH-1", *name.split()], shown


# --- the width policy (issue 13): ids, amounts, statuses, times and URLs whole; free text wraps between words

WORDS = ["राम", "बहादुर", "श्रेष्ठ", "कक्षा", "शुल्क,", "मंसिर", "Shrestha", "development", "Maya", "fund,", "Poush", "K.C."]
POLICY_KEYS = ["order_id", "customer_name", "name", "amount", "status", "created_at", "pay_url"]


def _render(rows: list[dict[str, object]], keys: list[str], width: int) -> list[str]:
    import io

    from khalti_cli.cli import render

    buffer = io.StringIO()
    render.make_console(buffer, False, width=width).print(render.records_view(rows, keys, False, width))
    return buffer.getvalue().splitlines()


def _policy_rows() -> object:
    from hypothesis import strategies as st

    token = st.text("ABCDEFGHJKMNPQRSTVWXYZ0123456789", min_size=4, max_size=24)
    words = st.lists(st.sampled_from(WORDS), min_size=1, max_size=5).map(" ".join)
    row = st.fixed_dictionaries(
        {
            "order_id": token.map(lambda t: "KH-261128-" + t),
            "customer_name": words,
            "name": words,
            "amount_paisa": st.integers(0, 99_999_999_999),
            "status": st.sampled_from(["created", "initiated", "partially_refunded", "completed"]),
            "created_at": st.sampled_from(["2026-11-28T04:15:00.000Z", "2026-01-01T18:14:59.999Z"]),
            "pay_url": token.map(lambda t: "https://fees.saraswati-school.example.edu.np/pay/" + t),
        }
    )
    return st.lists(row, min_size=1, max_size=5)


def test_every_id_amount_and_url_is_whole_on_one_line_at_every_width() -> None:
    """Generated rows (Nepali and English words, amounts up to Rs 99,99,99,999.99, long ids and URLs) at
    widths 60-160: each fixed cell on one line, whole; each free-text word whole; every line fits."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from khalti_cli.cli.render import human, label

    @settings(derandomize=True, max_examples=60, deadline=None, database=None)
    @given(rows=_policy_rows(), width=st.integers(60, 160), cut=st.integers(3, 7))
    def check(rows: list[dict[str, object]], width: int, cut: int) -> None:
        keys = POLICY_KEYS[:cut] if cut < 7 else POLICY_KEYS
        lines = _render(rows, keys, width)
        assert all(text_width(line) <= width for line in lines), (width, lines)
        for row in rows:
            for key in keys:
                value = human(key, row)
                if key in ("customer_name", "name"):
                    for word in value.split():
                        assert any(word in line.split() for line in lines), (word, lines)
                elif text_width(value) <= width:  # fits a screen line at all
                    assert any(value in line for line in lines), (value, lines)
        for key in keys:  # headers (or block labels) never split mid-word
            for word in label(key).split():
                assert any(word in line for line in lines), (word, lines)

    check()


def test_settle_and_void_confirmations_fit_the_terminal(cli: Cli) -> None:
    fee = "Annual   development  and infrastructure contribution fee for the academic year २०८३ प्रयोगशाला सहित"
    assert cli("payers", "add", "S-1", "--name", "कृष्ण प्रसाद श्रेष्ठ").exit_code == 0
    for oid in ("L-1", "L-2", "L-3"):
        assert cli("create", "--amount", "150000", "--name", fee, "--payer", "S-1", "--order-id", oid).exit_code == 0
    reference = "Cheque 123456 Nabil Bank Kathmandu branch"
    with tmux_screen({"NO_COLOR": "1", "KHALTI_PAGER": "cat"}) as screen:
        shown = screen.run(
            ["settle", "L-1", "--method", "cheque", "--reference", reference], 80, 24, keys=["y", "Enter"], when="]: "
        )
        voided = screen.run(["void", "L-2", "L-3", "--reason", "waived"], 80, 24, keys=["y", "Enter"], when="]: ")
    print("\n".join([*shown, "----", *voided]))
    for words in (fee.split(), reference.split(), ["कृष्ण", "प्रसाद", "श्रेष्ठ"]):
        on_screen = " ".join(shown).split()
        assert all(word in on_screen for word in words), words  # every word whole: none cut by the terminal
    assert not any("  " in line.strip() for line in shown if line.startswith(" " * 10))
    asked = [
        line for lines in (shown, voided) for line in lines[: next(i for i, x in enumerate(lines) if "[y/N]" in x)]
    ]
    assert all(len(cells(line)) < 80 for line in asked), asked  # nothing reached the edge to be wrapped there
    assert any(line.startswith("Change:   paid outside Khalti (cheque") for line in shown)
    assert voided.count(next(line for line in voided if line.startswith("Payment:"))) == 1
    assert sum(line.startswith("Payment:") for line in voided) == 2 and "development" in " ".join(voided).split()
    # Two records: the compact table of `khalti list`, no empty keys, no amount in paisa shown as rupees
    header = next(i for i, line in enumerate(voided) if line.startswith("order id"))
    assert {"L-2", "L-3"} <= {line.split()[0] for line in voided[header + 1 :] if line.strip()}
    assert not any(k in line for line in voided for k in ("pidx", "amount paisa", "settle method", "expires"))


def test_create_and_payers_add_show_the_record_on_a_terminal_and_the_id_in_a_pipe(cli: Cli, run_khalti: Any) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update(COLUMNS="80", LINES="24", NO_COLOR="1")
    code, screen = run_on_terminal(["payers", "add", "S-7", "--name", "सीता कुमारी शर्मा"], env)
    lines = screen.replace("\r", "").splitlines()
    assert code == 0 and any(re.fullmatch(r"reference\s+S-7\s*", line) for line in lines), lines
    assert any(re.fullmatch(r"name\s+सीता कुमारी शर्मा\s*", line) for line in lines)
    assert not any(line.split()[:1] in (["phone"], ["email"], ["group"]) for line in lines)  # empty: left out
    code, screen = run_on_terminal(["create", "--amount", "1500", "--name", "परीक्षा शुल्क", "--payer", "S-7"], env)
    lines = screen.replace("\r", "").splitlines()
    assert code == 0 and any(re.fullmatch(r"order id\s+KH-\d{6}-[0-9A-Z]{6}\s*", line) for line in lines), lines
    assert any(re.fullmatch(r"amount\s+Rs 1,500\.00\s*", line) for line in lines)
    assert not any(line.startswith(("payment link", "expires", "email", "phone")) for line in lines)  # empty
    code, screen = run_on_terminal(["payers", "show", "S-7"], env)
    lines = screen.replace("\r", "").splitlines()
    assert code == 0 and not any(line.split()[:1] in (["phone"], ["email"]) for line in lines), lines
    code, screen = run_on_terminal(["list", "--columns", "order_id,amount,amount_paisa"], env)
    row = screen.replace("\r", "").splitlines()[1].split()
    assert code == 0 and row[-3:] == ["Rs", "1,500.00", "150000"], row  # paisa as the number, never as rupees
    piped = run_khalti("create", "--amount", "1500", "--name", "Fee")  # a pipe: the id alone, as before
    assert piped.exit_code == 0 and re.fullmatch(r"KH-\d{6}-[0-9A-Z]{6}\n", piped.stdout), piped.stdout
    assert run_khalti("payers", "add", "S-8", "--name", "Hari").stdout == "S-8\n"


def test_a_failed_lookup_prints_nothing_on_stdout(cli: Cli, configured: SandboxServer, run_khalti: Any) -> None:
    from conftest import fault

    for oid in ("F-1", "F-2"):
        assert cli("create", "--amount", "1500", "--name", "Fee", "--order-id", oid, "--initiate").exit_code == 0
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update(COLUMNS="80", LINES="24", NO_COLOR="1")
    code, screen = run_on_terminal(["lookup", "F-1", "F-2", "--format", "table"], env)
    lines = screen.replace("\r", "").splitlines()  # two records: the compact table, not every key of each
    assert code == 0 and lines[0].split()[:3] == ["order", "id", "payer"] and len(lines) == 3, lines
    fault(configured, {"status": 503, "count": 20, "path": "lookup"})
    run = run_khalti("lookup", "F-1", "--format", "table")
    assert run.exit_code == 75 and "F-1" in run.stderr, run.stderr
    assert run.stdout == "", run.stdout  # no stale status, no "No records." (a message: stderr)


def test_restore_and_backup_messages_wrap_between_words(cli: Cli, isolated: Path) -> None:
    folder = isolated / "backups of the school office for the year 2083"
    folder.mkdir()
    backup = folder / "khalti-before-the-annual-fee-corrections.db"
    assert cli("create", "--amount", "100", "--name", "Fee", "--order-id", "B-1").exit_code == 0
    with tmux_screen({"NO_COLOR": "1"}) as screen:
        taken = screen.run(["backup", str(backup)], 80, 24)
        assert cli("note", "B-1", "later").exit_code == 0
        shown = screen.run(["restore", str(backup), "--force"], 80, 24)
    print("\n".join([*taken, "----", *shown]))
    kept = str(next(isolated.glob("khalti.db.replaced-*")))

    def said(screen_lines: list[str], printed: str) -> list[str]:
        """The message on stderr: the lines before the path printed on stdout (data: soft-wrapped by tmux)."""
        lines = [line for line in screen_lines if line.strip()]
        return lines[: -((len(printed) + 79) // 80)]

    def chunks(word: str) -> str:  # a word longer than the screen, as tmux soft-wraps it
        return "\n".join(word[i : i + 80] for i in range(0, len(word), 80))

    message = said(shown, kept)
    assert message[0].startswith("Restored 1 payment(s)") and message[-1].endswith("."), message
    # Lines end between words, at most 80 cells; the one word longer than the screen (the kept file's path)
    # stands alone, uncut by khalti: tmux wraps it softly, so it copies whole.
    assert len(kept) > 80 and f"\n{chunks(kept)}." in "\n" + "\n".join(message), message
    assert all(len(cells(line)) <= 80 for line in message), message
    words = " ".join(message).split()
    assert f"{backup.name}" in " ".join(words) and "school office for the year" in " ".join(message), message
    assert "The replaced database is kept as" in " ".join(message)  # one space between words, none cut
    backed = said(taken, str(backup))
    assert backed[0] == "Backed up 1 payment(s) to" and backed[-1].endswith("integrity check ok."), backed
    assert all(len(cells(line)) <= 80 for line in backed) and backup.name in " ".join(backed)


@pytest.mark.parametrize(("width", "height"), [(120, 40), (80, 24)])
def test_real_commands_keep_ids_amounts_and_links_whole_in_tmux(
    cli: Cli, isolated: Path, width: int, height: int
) -> None:
    from store_checks import backdate

    big = "KH-261128-J9KMQ2XW7P"
    for ref, name, group in (("S-1", "कृष्ण प्रसाद श्रेष्ठ", "Grade 10"), ("S-4", "Maya Rai", "कक्षा ८")):
        assert cli("payers", "add", ref, "--name", name, "--class", group).exit_code == 0
    fees = [("12345678.90", "Science lab development fund, Poush", "S-1", big), ("100", "परीक्षा शुल्क", "S-4", "D-2")]
    for amount, fee, payer, order_id in fees:
        run = cli("create", "--amount", amount, "--name", fee, "--payer", payer, "--order-id", order_id)
        assert run.exit_code == 0, run.stderr
    db = isolated / "khalti.db"
    backdate(db, "UPDATE payments SET pay_token = substr('tok' || order_id || '-abcdefghijklmnopqrstu', 1, 22)", [])
    backdate(db, "UPDATE payments SET status = 'paid_offline', paid_at = created_at WHERE order_id = ?", ["D-2"])
    site = "https://fees.saraswati-school.example.edu.np"
    env = {"KHALTI_PAGER": "cat", "NO_COLOR": "1", "KHALTI_PUBLIC_URL": site}
    with tmux_screen(env) as screen:
        listed = screen.run(["list"], width, height)
        for whole in (big, "Rs 1,23,45,678.90", "development", "Poush", "श्रेष्ठ"):
            assert any(whole in line for line in listed), (whole, listed)
        urls = screen.run(["list", "--columns", "order_id,customer_name,name,pay_url"], width, height)
        for order_id in (big, "D-2"):
            url = f"{site}/pay/" + f"tok{order_id}-abcdefghijklmnopqrstu"[:22]  # 72 characters
            assert any(url in line for line in urls), (url, urls)
        history = screen.run(["history", big], width, height)
        assert any(re.match(r"at +kind +outcome .*message", line) for line in history), history
        assert any("1,23,45,678.90" in line for line in history), history
        assert any("created" in line.split() for line in history[1:]), history
        dues = screen.run(["dues"], width, height)
        assert any(big in line and "Rs 1,23,45,678.90" in line for line in dues), dues
        report = screen.run(["report"], width, height)
        assert not any("…" in line for line in report), report
        classes = [line for line in report if line.split()[:1] in (["Grade"], ["कक्षा"], ["school"])]
        assert any("1,23,45,678.90" in line for line in classes), report  # the class, with its amounts
        assert any("कक्षा ८" in line and "100.00" in line for line in classes), report
        if height == 40:  # the summary (down to the chart) on one 40-line screen
            assert next(i for i, line in enumerate(report) if line.startswith("The books")) < 40, report


def test_show_is_paged_as_a_whole(cli: Cli) -> None:
    assert cli("create", "--amount", "1500", "--name", "Tuition", "--order-id", "W-1").exit_code == 0
    with tmux_screen({"NO_COLOR": "1"}, drop=("PAGER", "KHALTI_PAGER", "LESS")) as screen:
        screen.run(["show", "W-1"], 80, 10, keys=["q"])
        page = [line for line in screen.before_keys if line.strip()]
        assert page[0].startswith("order id") and "W-1" in page[0], page  # the record first, in less
        assert page[-1].startswith(":"), page
        piped = screen.run(["show", "W-1", "--format", "table"], 80, 40)  # fits: printed as it is, no pager
        assert piped[0].startswith("order id") and any(line.startswith("History") for line in piped), piped


def test_report_summary_of_a_real_month_fits_40_lines_in_tmux(cli: Cli, isolated: Path) -> None:
    """Four classes, ten days of collections, three links expiring within the hour: at 120x40 everything
    down to the chart is on the first screen; at 80x24 every figure is still whole."""
    from datetime import UTC, datetime, timedelta

    from store_checks import backdate

    classes = ["Grade 10", "Grade 3", "कक्षा ८", "UKG"]
    for i in range(16):
        assert cli("payers", "add", f"S-{i}", "--name", NAMES[i % 5], "--class", classes[i % 4]).exit_code == 0
        amount = ["15000", "600000", "1250.50", "12345678.90"][i % 4]
        run = cli("create", "--amount", amount, "--name", FEES[i % 5], "--payer", f"S-{i}", "--order-id", f"M-{i:02d}")
        assert run.exit_code == 0, run.stderr
    db = isolated / "khalti.db"
    backdate(db, "UPDATE payments SET created_at = '2026-03-01T04:00:00.000Z'", [])
    for i in range(10):
        status = "paid_offline" if i % 4 == 0 else "completed"
        paid = f"2026-03-{2 * i + 2:02d}T06:00:00.000Z"
        sql = "UPDATE payments SET status = ?, paid_at = ?, fee_paisa = 300 WHERE order_id = ?"
        backdate(db, sql, [status, paid, f"M-{i:02d}"])
    soon = datetime.now(UTC) + timedelta(minutes=20)
    for i in (10, 11, 12):
        sql = "UPDATE payments SET status = 'initiated', pidx = ?, payment_url = ?, expires_at = ? WHERE order_id = ?"
        at = (soon + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        backdate(db, sql, [f"pidx{i}", f"https://pay.khalti.com/?pidx=pidx{i}", at, f"M-{i:02d}"])
    period = ["report", "--since", "2026-03-01", "--until", "2026-03-31"]
    with tmux_screen({"KHALTI_PAGER": "cat", "NO_COLOR": "1"}) as screen:
        wide = screen.run(period, 120, 40)
        books = next(i for i, line in enumerate(wide) if line.startswith("The books"))
        assert books <= 40, "\n".join(wide)  # the summary: heading, status | money, expiring, chart
        chart = [line for line in wide[:books] if re.match(r"\s+\d\d-\d\d [█▏]", line)]
        assert len(chart) == 10, wide  # one bar per day with collections, no empty days
        assert any("Net collected" in line for line in wide[:books])
        at = next(i for i, line in enumerate(wide) if line.startswith("expiring link"))
        assert [line.split()[0] for line in wide[at + 1 : at + 4]] == ["M-10", "M-11", "M-12"], wide
        assert aligned(wide, at, ["expiring link", "payer", "amount", "expires"], right=("amount",)) == []
        narrow = screen.run(period, 80, 24)
        assert not any("…" in line for line in narrow)
        for order_id in ("M-10", "M-11", "M-12"):
            assert any(line.startswith(order_id) for line in narrow), narrow
        school = [line for line in narrow if line.startswith("school")]  # "By class" in two parts, whole
        assert len(school) == 2 and "5,18,47,717.60" in school[0], narrow  # billed: the 16 fees
