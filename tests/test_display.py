"""What a person sees on a terminal, read back from tmux: Nepali names keep tables straight, payment URLs
stay whole, one record reads as a record, the pager, and the terminal QR code scans on light and dark
themes."""

from __future__ import annotations

import os
import re
from pathlib import Path

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
