"""Tone: is a post negative, neutral or positive, and which words decided it. Pure, no I/O.

Two sources, in this order:

1. The team lexicon from the config (`[tone] negative = [...]`, `positive = [...]`), in every
   language. Terms are words or phrases, matched whole, ignoring case and accents ("enttauscht"
   matches "enttäuscht"); a trailing `*` matches any ending ("kaputt*" matches "kaputte"). When a
   post holds any team term, the team decides, whatever VADER would say: more negative terms than
   positive ones, or as many, is negative (a mixed post still asks for help), else positive.
2. VADER (`vaderSentiment`: a lexicon and rules made for social-media English, emoji and slang),
   for English posts only: a post whose language the network reports as something else is neutral
   unless the team lexicon says otherwise (VADER would read the German article "die" as a death).
   A post without a declared language goes to VADER only if it has a few common English words.

The tone is computed when an item is shown, never stored: a lexicon change applies at once to every
item, and items stored before tone existed need nothing. Rating is cached by text; a post with no
word VADER knows skips VADER altogether (most neutral posts), which keeps 10,000 posts well under a
second (`bench/tone.py`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

TONES = ("negative", "neutral", "positive")

NEGATIVE_BELOW = -0.05
"""VADER compound score at or under which an English post is negative: VADER's authors' own line.
(Stricter lines, -0.1 to -0.3, lost recall on the labelled set of `bench/tone.py` and gained no
precision.)"""
POSITIVE_ABOVE = 0.05
"""VADER compound score at or over which an English post is positive (VADER's line too)."""

_ENGLISH_HINTS = frozenset(
    "the and is are was were my i i'm you your it it's this that to of for not no never with have has "
    "just what why how can can't don't won't again so but ever very really me please thanks a an on".split()
)
_WORD = re.compile(r"[\w']+")


@dataclass(frozen=True, slots=True)
class Tone:
    """The tone of one text and what decided it."""

    label: str
    """`negative`, `neutral` or `positive`."""
    words: tuple[str, ...] = ()
    """The words that decided it, as the lexicon spells them."""
    source: str = ""
    """`team` (the config's lexicon), `vader`, or "" (nothing decided: neutral)."""
    score: float = 0.0
    """VADER's compound score (-1..1) when VADER decided; the team's count difference otherwise."""

    @property
    def negative(self) -> bool:
        return self.label == "negative"

    @property
    def reason(self) -> str:
        """What an operator reads: `negative: 'refund', 'worst'`."""
        if self.words:
            return f"{self.label}: " + ", ".join(repr(word) for word in self.words)
        if self.source == "vader":
            return f"{self.label}: VADER score {self.score:+.2f}"
        return self.label


NEUTRAL = Tone("neutral")


def fold(text: str) -> str:
    """Text compared loosely: case folded, accents dropped (NFKD without combining marks)."""
    if text.isascii():
        return text.lower()  # the common case, ten times faster
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


@dataclass(frozen=True)
class ToneLexicon:
    """The team's words, from `[tone]` in the config. Both tuples as the config spells them."""

    negative: tuple[str, ...] = ()
    positive: tuple[str, ...] = ()


def _terms(terms: Iterable[str]) -> list[tuple[str, str]]:
    """(regex body in folded text, the term as configured), longest first: "not happy" wins over
    "happy" at the same place."""
    out = []
    for term in terms:
        name = term.strip()
        folded = fold(name)
        prefix = folded.endswith("*")
        folded = folded.rstrip("*").strip()
        if folded:
            body = r"\s+".join(re.escape(piece) for piece in folded.split())
            out.append((body + (r"\w*" if prefix else ""), name))
    out.sort(key=lambda pair: len(pair[0]), reverse=True)
    return out


def _pattern(terms: list[tuple[str, str]]) -> re.Pattern[str] | None:
    """One regex finding any of `terms` as whole words; group N is the Nth term."""
    if not terms:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(f"({body})" for body, _ in terms) + r")(?!\w)")


class ToneRater:
    """Rates texts with a team lexicon and (optionally) VADER. Build one per lexicon; reuse it."""

    def __init__(self, lexicon: ToneLexicon | None = None, *, vader: bool = True) -> None:
        self.lexicon = lexicon or ToneLexicon()
        negative, positive = _terms(self.lexicon.negative), _terms(self.lexicon.positive)
        self._negative, self._positive = _pattern(negative), _pattern(positive)
        self._names = {"negative": [n for _, n in negative], "positive": [n for _, n in positive]}
        self._vader = _vader() if vader else None
        self._known = frozenset(self._vader.lexicon) if self._vader is not None else frozenset()
        self._emoji = frozenset(self._vader.emojis) if self._vader is not None else frozenset()
        self.rate = lru_cache(maxsize=50_000)(self._rate)  # type: ignore[method-assign]  # the per-instance cache replaces the method on purpose

    def _hits(self, folded: str, which: str) -> list[str]:
        pattern = self._negative if which == "negative" else self._positive
        if pattern is None:
            return []
        names = self._names[which]
        found: list[str] = []
        for match in pattern.finditer(folded):
            name = names[match.lastindex - 1] if match.lastindex else ""
            if name.endswith("*"):
                name = match.group(0)  # what the post said: "kaputte" for "kaputt*"
            if name and name not in found:
                found.append(name)
        return found

    def rate(self, text: str, langs: tuple[str, ...] = ()) -> Tone:  # replaced by a cached copy
        return self._rate(text, langs)

    def _rate(self, text: str, langs: tuple[str, ...] = ()) -> Tone:
        folded = fold(text)
        negative = self._hits(folded, "negative")
        positive = self._hits(folded, "positive")
        english = self._vader is not None and self._english(text, folded, langs)
        words = [w.strip("'") for w in _WORD.findall(text.lower())] if english else []
        if negative or positive:
            label = "negative" if len(negative) >= len(positive) and negative else "positive"
            decided = negative if label == "negative" else positive
            # VADER's words of the same sign join the reason ("'refund', 'worst'"); the team decides.
            decided += self._weighed(words, text, -1 if label == "negative" else 1, decided)
            return Tone(label, tuple(decided[:4]), "team", float(len(positive) - len(negative)))
        if self._vader is None or not english:
            return NEUTRAL
        if not any(w in self._known for w in words) and not any(c in self._emoji for c in text):
            return NEUTRAL  # nothing VADER could weigh: skip it (the common case)
        score = self._vader.polarity_scores(text)["compound"]
        if score <= NEGATIVE_BELOW:
            label = "negative"
        elif score >= POSITIVE_ABOVE:
            label = "positive"
        else:
            return Tone("neutral", (), "vader", score)
        decided = self._weighed(words, text, -1 if label == "negative" else 1, [])
        return Tone(label, tuple(decided[:4]), "vader", score)

    def _weighed(self, words: list[str], text: str, sign: int, already: list[str]) -> list[str]:
        """The words (and emoji) of `text` that VADER weighs with `sign`, not in `already`."""
        if self._vader is None:
            return []
        seen = {fold(word) for word in already}
        out: list[str] = []
        for word in words:
            valence = self._vader.lexicon.get(word)
            if valence is not None and valence * sign > 0 and word not in seen:
                seen.add(word)
                out.append(word)
        for char in text:
            if char in self._emoji and char not in seen:
                seen.add(char)
                if self._vader.polarity_scores(self._vader.emojis[char])["compound"] * sign > 0:
                    out.append(char)
        return out

    @staticmethod
    def _english(text: str, folded: str, langs: tuple[str, ...]) -> bool:
        if langs:
            return any(lang.lower().split("-")[0] == "en" for lang in langs)
        return any(word in _ENGLISH_HINTS for word in _WORD.findall(folded))


@lru_cache(maxsize=1)
def _vader() -> Any:  # vaderSentiment is untyped
    # Loading the lexicon takes ~50 ms: once per process, and only when a tone is wanted.
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


@lru_cache(maxsize=8)
def rater_for(lexicon: ToneLexicon) -> ToneRater:
    """The shared rater of a lexicon (the config's `[tone]`)."""
    return ToneRater(lexicon)


def tone_of(text: str, langs: tuple[str, ...] = (), lexicon: ToneLexicon | None = None) -> Tone:
    """The tone of `text` (a post's), with the team's `lexicon`."""
    return rater_for(lexicon or ToneLexicon()).rate(text, tuple(langs))


__all__ = ["TONES", "Tone", "ToneLexicon", "ToneRater", "NEUTRAL", "fold", "rater_for", "tone_of"]
