"""What each playbook added, in words and figures a shop owner follows (docs/experiments.md).

The web pages (``/experiments``) and the offline report both show ``ws.experiments.effects``;
this module turns each ``PlaybookEffect`` into the sentences and texts they share, and picks the
playbooks the forest chart draws (``report_charts.forest_figure``): those with a verdict. A
playbook whose verdict is "not enough customers yet to tell" gets the customers (and weeks) it
still needs instead of a point, since its number would be mostly chance. The whole programme
against the global control group (``ws.experiments.programme``) and the offers' decisions
(``ws.experiments.offers``) are worded here too (``programme_described``, ``offer_rows``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from retainly.results.experiments import PlaybookEffect, PlaybookOffers, ProgrammeEffect

NOT_ENOUGH = "not enough customers yet to tell"
# retainly.experiments.measure.MIN_PER_ARM: below it in an arm the service gives no figures, so the
# customers still needed are worked out here (shells may not import the domain; a test keeps the two equal).
MIN_PER_ARM = 30
TARGET_SHARE = 0.1  # the service's default target: a tenth of what the held-out customers spend
VERDICT_CLASSES = {"added": "added", "lost": "lost", "no clear effect": "unclear", NOT_ENOUGH: "unknown"}


def has_point(effect: PlaybookEffect) -> bool:
    """Whether the chart draws the playbook: a verdict told, and a difference to draw."""
    return effect.verdict != NOT_ENOUGH and effect.difference is not None


def described(effect: PlaybookEffect, money: Callable[[float | None], str], title: str | None = None,
              share: float | None = None) -> dict:
    """One playbook's effect with its texts (``money`` formats an amount in the shop's currency);
    ``share`` is the playbook's holdout share now, used while no enrolment has ended its window
    (the effect then knows none)."""
    point = has_point(effect)
    return {
        "playbook": effect.playbook, "title": title or effect.playbook, "effect": effect, "verdict": effect.verdict,
        "verdict_class": VERDICT_CLASSES.get(effect.verdict, "unknown"), "has_point": point,
        "sentence": added_sentence(effect, money) if point else None,
        "verdict_sentence": verdict_sentence(effect, money),
        "needed": None if point else needed_sentence(effect, money, share),
        "warning": warning_sentence(effect),
        "difference_text": money(effect.difference) if point else "–",
        "range_text": _range(effect.low, effect.high, money) if point else "–",
        "bootstrap_text": _range(effect.bootstrap_low, effect.bootstrap_high, money) if point else "–",
        "incremental_text": money(effect.incremental_revenue) if point else "–",
        "incremental_range_text": _range(effect.incremental_low, effect.incremental_high, money) if point else "–",
        "treated_text": money(effect.treated_revenue), "held_out_text": money(effect.held_out_revenue),
        "detectable_text": money(effect.detectable_effect),
    }


def described_all(effects: Iterable[PlaybookEffect], money: Callable[[float | None], str],
                  playbooks: Iterable) -> list[dict]:
    """``described`` for every effect, with the title and holdout share of its playbook (summaries)."""
    books = {book.name: book for book in playbooks}
    return [described(effect, money, getattr(books.get(effect.playbook), "title", None),
                      getattr(books.get(effect.playbook), "holdout_share", None)) for effect in effects]


def chart_rows(rows: Iterable[dict]) -> list[dict]:
    """What the forest chart draws for the described playbooks that have a point."""
    return [{"playbook": row["playbook"], "label": row["title"], "difference": row["effect"].difference,
             "low": row["effect"].low, "high": row["effect"].high, "bootstrap_low": row["effect"].bootstrap_low,
             "bootstrap_high": row["effect"].bootstrap_high} for row in rows if row["has_point"]]


def any_enrolled(effects: Iterable[PlaybookEffect]) -> bool:
    """Whether any playbook has a customer whose window has ended (else there is nothing to compare)."""
    return any(effect.treated + effect.held_out for effect in effects)


def _range(low: float | None, high: float | None, money) -> str:
    return f"{money(low)} to {money(high)}"


def _spent(who: str, when: str, than: str, found: PlaybookEffect | ProgrammeEffect, money) -> str:
    """The sentence "WHO spent X more each WHEN than THAN (95 % range ...): about N added in all (...)"."""
    more = "more" if found.difference >= 0 else "less"
    total = "added" if found.incremental_revenue >= 0 else "lost"
    return (f"{who} spent {money(abs(found.difference))} {more} each {when} than {than} "
            f"(95 % range {_range(found.low, found.high, money)}): about {money(abs(found.incremental_revenue))} "
            f"{total} in all ({_range(found.incremental_low, found.incremental_high, money)}).")


def added_sentence(effect: PlaybookEffect, money) -> str:
    """The difference per customer and the revenue added, with their 95 % ranges, in words."""
    return _spent("Treated customers", f"in the {effect.window_days} days after entering", "held-out customers",
                  effect, money)


def verdict_sentence(effect: PlaybookEffect, money) -> str:
    """What the verdict means for this playbook."""
    if effect.verdict == "added":
        return "The whole range lies above zero: the playbook added revenue."
    if effect.verdict == "lost":
        return "The whole range lies below zero: the playbook cost revenue."
    if effect.verdict == "no clear effect":
        return (f"The range takes in zero: no clear effect, though the test was large enough to find a difference "
                f"of {money(effect.detectable_effect)} per customer 8 times in 10.")
    return "Not enough customers yet to tell."


def needed_sentence(effect: PlaybookEffect, money, share: float | None = None) -> str:
    """How many more customers (and weeks) the playbook needs before it can be told."""
    share = effect.holdout_share if effect.holdout_share is not None else share
    so_far = (f"{effect.treated:,} treated and {effect.held_out:,} held out so far" if effect.treated + effect.held_out
              else "Nobody's window has ended yet")
    if share is not None and share <= 0:
        return f"{so_far}: it holds nobody out, so what it adds cannot be measured; give it a holdout share."
    if effect.treated < MIN_PER_ARM or effect.held_out < MIN_PER_ARM:
        if not share or share >= 1:
            return f"{so_far}; telling needs at least {MIN_PER_ARM} in each group."
        total = math.ceil(MIN_PER_ARM / min(share, 1 - share) - 1e-9)
        more = max(0, total - effect.treated - effect.held_out)
        return (f"{so_far}; telling needs at least {MIN_PER_ARM} in each group: about {total:,} customers in all "
                f"with {share * 100:.0f} % held out, {more:,} more.")
    if effect.customers_needed is None:
        return (f"{so_far}, but the held-out customers spent nothing in the window, so there is no tenth of it to "
                "look for yet.")
    target = money(TARGET_SHARE * (effect.held_out_revenue or 0))
    more = max(0, effect.customers_needed - effect.treated - effect.held_out)
    text = (f"{so_far}, too few for the spread of what customers spend: finding a difference of {target} per "
            f"customer (a tenth of what held-out customers spend) needs about {effect.customers_needed:,} customers "
            f"in all, {more:,} more")
    if effect.weeks_needed is not None and more:
        return f"{text}: about {effect.weeks_needed:,.0f} weeks at the pace of the last 8 weeks."
    return f"{text}; nobody entered it in the last 8 weeks, so when cannot be said." if more else f"{text}."


def warning_sentence(effect: PlaybookEffect) -> str | None:
    """The sample-ratio warning in words, or None when the split matches its share."""
    if not effect.sample_ratio_warning:
        return None
    total = effect.treated + effect.held_out
    actual = effect.held_out / total if total else 0.0
    share = "" if effect.holdout_share is None else f" where {effect.holdout_share * 100:.0f} % was set"
    return (f"The split does not match its share: {effect.held_out:,} of {total:,} customers are held out "
            f"({actual * 100:.0f} %){share}, p = {effect.sample_ratio_p:.1g}. Something in the counting is wrong: "
            "do not trust these figures until it is found.")


def programme_described(whole: ProgrammeEffect | None, money: Callable[[float | None], str]) -> dict | None:
    """The whole programme against the global control group in words (None without a group)."""
    if whole is None:
        return None
    point = has_point(whole)
    return {"effect": whole, "verdict": whole.verdict, "has_point": point,
            "verdict_class": VERDICT_CLASSES.get(whole.verdict, "unknown"),
            "sentence": programme_sentence(whole, money) if point else programme_needed(whole, money),
            "sizes": (f"{whole.treated:,} existing customers outside the group and {whole.held_out:,} in it "
                      f"({whole.control_share * 100:.0f} % set)"),
            "warning": programme_warning(whole)}


def programme_sentence(whole: ProgrammeEffect, money) -> str:
    """What the customers outside the global control group spent more each, and in all, in words."""
    return _spent("Existing customers outside the global control group", f"from {whole.since} to {whole.as_of}",
                  "those in it", whole, money)


def programme_needed(whole: ProgrammeEffect, money) -> str:
    """Why the programme cannot be told yet, and the existing customers it would need."""
    if whole.days < 1:
        return (f"The global control group begins on {whole.since}, after {whole.as_of}: there is nothing to "
                "measure yet.")
    so_far = (f"Not enough customers yet to tell: {whole.treated:,} existing customers outside the group and "
              f"{whole.held_out:,} in it so far")
    share = whole.control_share
    if whole.treated < MIN_PER_ARM or whole.held_out < MIN_PER_ARM:
        total = math.ceil(MIN_PER_ARM / min(share, 1 - share) - 1e-9)
        return (f"{so_far}; telling needs at least {MIN_PER_ARM} in each: about {total:,} existing customers in all "
                f"with {share * 100:.0f} % in the group.")
    if whole.customers_needed is None:
        return f"{so_far}, but those in the group spent nothing, so there is no tenth of it to look for yet."
    target = money(TARGET_SHARE * (whole.held_out_revenue or 0))
    return (f"{so_far}: finding a difference of {target} per customer (a tenth of what the group's customers "
            f"spend) needs about {whole.customers_needed:,} existing customers in all at this share.")


def programme_warning(whole: ProgrammeEffect) -> str | None:
    """The global control group's sample-ratio warning in words, or None when the split matches."""
    if not whole.sample_ratio_warning:
        return None
    total = whole.treated + whole.held_out
    actual = whole.held_out / total if total else 0.0
    return (f"The global control group does not match its share: {whole.held_out:,} of {total:,} existing "
            f"customers are in it ({actual * 100:.0f} %) where {whole.control_share * 100:.0f} % was set, "
            f"p = {whole.sample_ratio_p:.1g}. Something in the counting is wrong: do not trust these figures "
            "until it is found.")


def offer_rows(offers: Iterable[PlaybookOffers], money: Callable[[float | None], str],
               playbooks: Iterable = ()) -> list[dict]:
    """The playbooks whose offers are targeted or have decisions, with their texts (none: no table)."""
    books = {book.name: book for book in playbooks}
    shown = lambda value: "–" if value is None else money(value)  # noqa: E731 (the default's: no figures)
    return [{"playbook": found.playbook, "title": getattr(books.get(found.playbook), "title", None) or found.playbook,
             "offers": found, "targeted_text": "yes" if found.targeted else "no",
             "gain_text": shown(found.expected_gain), "everyone_text": shown(found.expected_gain_everyone),
             "saving_text": shown(found.saving), "model_text": found.model or "–"}
            for found in offers if found.decisions or found.targeted]
