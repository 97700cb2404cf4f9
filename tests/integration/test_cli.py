"""The CLI contracts other tools drive: ``nexustop chat --demo --json`` and ``nexustop parse``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

NEXUSTOP = [sys.executable, "-m", "nexustop.cli"]


def _run(args: list[str], stdin: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}",
        "PYTHONIOENCODING": "utf-8",
    }
    return subprocess.run(
        NEXUSTOP + args, input=stdin, capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_demo_chat_over_a_pipe_buys_airtime_and_prints_the_receipt(tmp_path: Path) -> None:
    script = "buy 500 airtime for 08031234567\nConfirm\n"
    result = _run(["chat", "--demo", "--json", "--country", "NG"], script, tmp_path)

    assert result.returncode == 0, result.stderr
    replies = [json.loads(line) for line in result.stdout.splitlines()]
    assert all(set(r) >= {"text", "buttons"} for r in replies)
    quote = next(r for r in replies if "Buy" in r["text"])
    assert [b["title"] for b in quote["buttons"]][:2] == ["Confirm", "Cancel"]
    assert any(r["text"].startswith("✅ Delivered") for r in replies), result.stdout


def test_demo_wallet_persists_between_runs_and_lists_use_rows(tmp_path: Path) -> None:
    _run(
        ["chat", "--demo", "--json", "--phone", "08031234567"],
        "airtime 100 for 08031234567\nConfirm\n",
        tmp_path,
    )
    result = _run(
        ["chat", "--demo", "--json", "--phone", "08031234567"], "balance\ndata\nMy number\n", tmp_path
    )

    replies = [json.loads(line) for line in result.stdout.splitlines()]
    assert "₦9,900.00" in replies[0]["text"]
    assert {"id": "phone:self", "title": "My number"} in replies[1]["buttons"]
    assert "MTN" in replies[2]["text"]
    assert replies[2]["rows"][0]["id"].startswith("bundle:mtn-ng-")


def test_bad_input_gets_a_reply_and_no_crash(tmp_path: Path) -> None:
    junk = "\x00\x1b[31m🔥🔥🔥\n" + "9" * 5000 + "\n" + "ثم\n" + "-1000 airtime for 08031234567\n"
    result = _run(["chat", "--demo", "--json", "--country", "NG"], junk, tmp_path)

    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) >= 4


def test_parse_prints_the_contract_fields() -> None:
    result = subprocess.run(
        [*NEXUSTOP, "parse", "--country", "NG", "buy N1,500 airtime for 0803 123 4567"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(result.stdout) == {
        "intent": "buy_airtime",
        "amount": "1500",
        "currency": "NGN",
        "phone": "+2348031234567",
        "network": "MTN",
        "data_mb": None,
    }


def test_parse_jsonl_answers_line_by_line_in_order() -> None:
    lines = [
        {"country": "SN", "text": "forfait 2 Go pour 77 123 45 67"},
        {"country": "GH", "text": "balance"},
        {"country": "CV", "text": "cancelar"},
    ]
    result = subprocess.run(
        [*NEXUSTOP, "parse", "--jsonl"],
        input="\n".join(json.dumps(x) for x in lines) + "\n",
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["intent"] for o in out] == ["buy_data", "check_balance", "cancel"]
    assert out[0]["data_mb"] == 2048 and out[0]["phone"] == "+221771234567"
