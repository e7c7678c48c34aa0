"""Suggest a call nature (config/taxonomy/call_natures.csv) for a local call-type code from its description
text, with word and abbreviation rules only: no network, no model.

The text is normalized (upper case; `W/` read as WITH; anything but letters, digits, `&`, `-` and the dots
and commas inside a number becomes a space) into tokens. Each token an abbreviation list names is replaced by
its expansion (`VEH` -> VEHICLE, `DV` -> DOMESTIC VIOLENCE), so rules are written in plain words. Then the
rules are tried in order, the agency's own list first, the general list after it; the first rule that matches
names the nature. Rule kinds:

- `code`:   a token equal to the pattern (`415`), or starting with it when the pattern ends in `*` (`22500*`).
            Agency-local radio codes and statute numbers belong in the agency's list only: 415 is a
            disturbance in California, not elsewhere.
- `word`:   a token (after expansion) equal to the pattern.
- `phrase`: the words of the pattern, in that order and adjacent, in the expanded text.

A text no rule matches gets no suggestion (None), never a guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

RULE_KINDS = ("code", "word", "phrase")

_WITH = re.compile(r"\bW/")
_TOKEN = re.compile(r"[A-Z0-9&]+(?:[.,-][A-Z0-9&]+)*")


@dataclass(frozen=True)
class Rule:
    kind: str  # code, word or phrase
    pattern: str
    call_nature: str
    origin: str = "general"  # which list it comes from: general, or the agency's list name

    def __post_init__(self) -> None:
        if self.kind not in RULE_KINDS:
            raise ValueError(f"rule kind {self.kind!r} is not one of {RULE_KINDS}")
        if not self.pattern.strip():
            raise ValueError(f"empty pattern in a {self.kind} rule for {self.call_nature}")

    def matches(self, raw_tokens: list[str], tokens: list[str]) -> bool:
        pat = self.pattern.strip().upper()
        if self.kind == "code":
            if pat.endswith("*"):
                return any(t.startswith(pat[:-1]) for t in raw_tokens)
            return pat in raw_tokens
        if self.kind == "word":
            return pat in tokens or pat in raw_tokens
        words = pat.split()
        n = len(words)
        return any(tokens[i:i + n] == words for i in range(len(tokens) - n + 1))

    def describe(self) -> str:
        return f"{self.origin} {self.kind} {self.pattern}"


def raw_tokens(text: str) -> list[str]:
    """The tokens of a description before abbreviation expansion."""
    return _TOKEN.findall(_WITH.sub("WITH ", str(text).upper()))


def expand(tokens: Iterable[str], abbreviations: Mapping[str, str]) -> list[str]:
    """Each token an abbreviation names replaced by the words of its expansion."""
    out: list[str] = []
    for t in tokens:
        out.extend(abbreviations.get(t, t).split())
    return out


def suggest(text: str, rules: Iterable[Rule], abbreviations: Mapping[str, str]) -> Rule | None:
    """The first rule matching the text, or None."""
    raw = raw_tokens(text)
    # a hyphenated token is also read as its parts: WELL-BEING is WELL-BEING, then WELL and BEING
    tokens = expand([p for t in raw for p in ([t, *t.split("-")] if "-" in t else [t])], abbreviations)
    for rule in rules:
        if rule.matches(raw, tokens):
            return rule
    return None


def score(pairs: Iterable[tuple[str | None, str, int]], group_of: Mapping[str, str]) -> dict[str, float | int]:
    """How often suggestions agree with reviewed natures. pairs: (suggested or None, reviewed, n_calls).
    Returns exact and same-group shares over codes and weighted by calls, with the counts."""
    n_codes = n_calls = exact_codes = exact_calls = group_codes = group_calls = none_codes = 0
    for suggested, reviewed, calls in pairs:
        n_codes += 1
        n_calls += calls
        if suggested is None:
            none_codes += 1
            continue
        if suggested == reviewed:
            exact_codes += 1
            exact_calls += calls
        if group_of.get(suggested) is not None and group_of.get(suggested) == group_of.get(reviewed):
            group_codes += 1
            group_calls += calls
    return {
        "codes": n_codes, "calls": n_calls, "no_suggestion_codes": none_codes,
        "exact_share_codes": exact_codes / n_codes if n_codes else float("nan"),
        "exact_share_calls": exact_calls / n_calls if n_calls else float("nan"),
        "group_share_codes": group_codes / n_codes if n_codes else float("nan"),
        "group_share_calls": group_calls / n_calls if n_calls else float("nan"),
    }
