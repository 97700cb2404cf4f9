"""Benchmark ``conversations.parser.parse`` on a mixed corpus; last line is parses_per_second=N."""

from __future__ import annotations

import itertools
import random
import time

from conversations.parser import parse

SECONDS = 5.0

PHONES = {
    "NG": ["08031234567", "0803 123 4567", "+234 805 987 6543", "2348091234567", "07061234567"],
    "GH": ["0241234567", "+233 20 123 4567", "0551234567"],
    "SN": ["77 123 45 67", "+221 70 123 45 67", "761234567"],
    "CI": ["0701234567", "05 01 23 45 67", "+225 07 01 23 45 67"],
    "CV": ["9911234", "+238 991 12 34"],
    "GM": ["3012345", "7012345"],
    "LR": ["0770123456", "0886123456"],
    "SL": ["076 123456", "+232 88 123456"],
    "GN": ["601 12 34 56", "+224 621 23 45 67"],
    "MR": ["22 12 34 56", "+222 36 12 34 56"],
}
TEMPLATES = {
    "NG": [
        "buy {a} airtime for {p}",
        "N{a} mtn {p}",
        "abeg load my line {k}k {p}",
        "1GB for {p}",
        "data 2GB",
        "send {a} to {p}",
        "fund wallet {a}",
        "pay NEPA",
        "pay DSTV {a}",
        "gift {a} to {p}",
        "balance",
        "wetin be my balance",
        "history",
        "customer care",
        "hi",
        "yes",
        "no",
        "cancel",
        "₦{a},000 airtle {p}",
        "recharg {a} for my mum {p}",
        "abeg i wan talk to person",
        "na so",
        "how far, 500MB for {p} glo",
        "please I need 1.5G data for this number {p}",
        "9mobil {a} {p}",
    ],
    "GH": ["GH₵10 for {p}", "GHS 10.50 airtime", "20 cedis credit {p}", "hello", "1gig data {p}"],
    "SN": [
        "je veux du crédit {a}F pour {p}",
        "solde",
        "2 Go forfait orange",
        "500 Mo pour {p}",
        "annuler",
        "oui",
        "1 500 FCFA orang {p}",
        "parler à un conseiller",
        "bonjour",
        "payer ma facture senelec",
        "historique",
    ],
    "CI": ["envoyer 5000 au {p}", "recharge {a} F {p}", "pass internet 1 Go moov", "non merci"],
    "CV": ["quero recarregar {a} escudos para {p}", "saldo", "histórico", "sim", "não", "olá"],
    "GM": ["D50 credit {p}", "100 dalasis airtime for {p}", "qcell data 1GB"],
    "LR": ["$5 credit for {p}", "L$100 airtime {p}", "orange 2gig {p}"],
    "SL": ["Le 20 airtime {p}", "africell 1GB for {p}", "SLE 15 top up"],
    "GN": ["5000 FG crédit {p}", "1000F orange {p}", "2 Go internet"],
    "MR": ["500 UM crédit {p}", "recharge 100 MRU {p}", "solde"],
}


def corpus(seed: int = 7, size: int = 600) -> list[tuple[str, str]]:
    """Build a reproducible corpus of realistic messages across countries and languages."""
    rng = random.Random(seed)
    messages: list[tuple[str, str]] = []
    pairs = [(c, t) for c, ts in TEMPLATES.items() for t in ts]
    while len(messages) < size:
        country, template = rng.choice(pairs)
        text = template.format(
            a=rng.choice([100, 200, 500, 1000, 1500, 2000, 5000]),
            k=rng.choice([1, 2, 5]),
            p=rng.choice(PHONES[country]),
        )
        messages.append((text, country))
    return messages


def run(messages: list[tuple[str, str]], seconds: float) -> tuple[int, float]:
    """Parse messages round-robin for ``seconds``; return (count, elapsed)."""
    count, start = 0, time.perf_counter()
    batch = 100
    cycle = itertools.cycle(messages)
    while time.perf_counter() - start < seconds:
        for text, country in itertools.islice(cycle, batch):
            parse(text, country)
        count += batch
    return count, time.perf_counter() - start


def main() -> None:
    """Warm up, time the corpus on one core, and print the figures."""
    messages = corpus()
    first = time.perf_counter()
    for text, country in messages:
        parse(text, country)
    cold = time.perf_counter() - first
    print(f"corpus: {len(messages)} messages, {len({t for t, _ in messages})} distinct")
    print(f"first pass (cold caches): {len(messages) / cold:,.0f} parses/s")
    count, elapsed = run(messages, SECONDS)
    print(f"timed: {count} parses in {elapsed:.2f}s ({elapsed / count * 1e6:.1f} us/parse)")
    print(f"parses_per_second={count / elapsed:.0f}")


if __name__ == "__main__":
    main()
