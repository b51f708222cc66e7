"""Tone benchmark: how well `negative` is found, and how fast 10,000 posts are labelled.

    python bench/tone.py

The labelled set is `tests/data/tone/labelled.tsv` (207 short posts about a bike brand in English,
German, Spanish, French and Portuguese, written and labelled by hand: see the README beside it). The
lexicon is the team lexicon of `config.example.toml` (`[tone]`), as a team starting from the example
would have it; VADER reads the English posts.

Prints, each against its budget (`<metric>: <value> <unit> (budget <value> <unit>) ok|over`):

    negative_precision / negative_recall
        Of the posts labelled negative by the rater, the share labelled negative by hand; of the
        posts labelled negative by hand, the share the rater found. Budgets of this bench's own
        (0.8 precision, 0.7 recall): an operator must trust the mark, and most complaints must carry it.
        Per-language figures and every miss follow as `#` lines.
    label_10000_posts
        Wall time to rate 10,000 distinct posts (the labelled texts, each made distinct by a serial
        number) with a fresh rater (an empty cache: every post is rated, none remembered).
        Budget: 1 s (the issue's).

Exit status 1 when a figure is over its budget.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from socialtui.config import load_config  # noqa: E402
from socialtui.tone import ToneRater  # noqa: E402

DATA = REPO / "tests" / "data" / "tone" / "labelled.tsv"


def load() -> list[tuple[str, str, str]]:
    rows = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        label, lang, text = line.split("\t", 2)
        rows.append((label, lang, text))
    return rows


def report(metric: str, value: float, unit: str, budget: float, higher_is_better: bool) -> bool:
    ok = value >= budget if higher_is_better else value <= budget
    print(f"{metric}: {value:.3f} {unit} (budget {budget:g} {unit}) {'ok' if ok else 'over'}")
    return ok


def main() -> int:
    rows = load()
    lexicon = load_config(REPO / "config.example.toml").tone
    started = time.perf_counter()
    rater = ToneRater(lexicon)
    rater.rate("warm up: loads VADER's lexicon", ("en",))
    print(
        f"# rater built and VADER loaded in {time.perf_counter() - started:.3f} s; {len(rows)} labelled posts"
    )

    counts: Counter[tuple[str, str]] = Counter()
    misses = []
    for label, lang, text in rows:
        got = rater.rate(text, (lang,)).label
        for scope in ("all", lang):
            counts[(scope, "tp")] += got == "negative" and label == "negative"
            counts[(scope, "fp")] += got == "negative" and label != "negative"
            counts[(scope, "fn")] += got != "negative" and label == "negative"
        if (got == "negative") != (label == "negative"):
            misses.append((label, got, lang, text, rater.rate(text, (lang,)).reason))

    def pr(scope: str) -> tuple[float, float]:
        tp, fp, fn = counts[(scope, "tp")], counts[(scope, "fp")], counts[(scope, "fn")]
        return (tp / (tp + fp) if tp + fp else 1.0), (tp / (tp + fn) if tp + fn else 1.0)

    precision, recall = pr("all")
    ok = report("negative_precision", precision, "", 0.8, True)
    ok &= report("negative_recall", recall, "", 0.7, True)
    for lang in sorted({lang for _, lang, _ in rows}):
        p, r = pr(lang)
        print(f"#   {lang}: precision {p:.2f} recall {r:.2f}")
    for label, got, lang, text, reason in misses:
        print(f"#   miss: labelled {label}, rated {got} ({reason}) [{lang}] {text}")

    posts = [(f"{text} #{n}", (lang,)) for n in range(10_000) for label, lang, text in [rows[n % len(rows)]]]
    fresh = ToneRater(lexicon)
    started = time.perf_counter()
    for text, langs in posts:
        fresh.rate(text, langs)
    ok &= report("label_10000_posts", time.perf_counter() - started, "s", 1.0, False)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
