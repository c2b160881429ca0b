"""Terminal tables never cut a number, at any width: they wrap text or print in parts.

At 80 columns Rich used to cut every cell of `kpis --by quarter` ("5,72…"), at 120 the revenue,
and the monthly cohort table even at 160. Each check below prints a command's table at a set
console width and finds every number of the same command's --json output whole in it.
"""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest
from rich.cells import cell_len

from retainly.cli import output
from retainly.cli.tables import human
from tests.cli.running import captured

WIDTHS = (80, 120, 160)
_TOKEN = re.compile(r"(?<![\w.,])-?\d[\d,]*(?:\.\d+)?")
_TABLE_LINE = re.compile(r"^[┏┃┡│└┌├]")
# The columns of the per-period KPI table (the rest is in --json).
KPI_TABLE = ("customers", "new_customers", "orders", "revenue", "aov", "repeat_purchase_rate", "crr", "churn_rate",
             "historic_ltv", "top20_revenue_share")


@pytest.fixture
def width():
    saved = output.console.width
    yield lambda columns: setattr(output.console, "width", columns)
    output.console.width = saved


def shown(number) -> set[str]:
    """How a number of the JSON can be printed: 4 decimals at most (trailing zeros dropped), or as
    money with exactly 2 when it has no more, with thousands separators."""
    forms = {f"{number:,.4f}".rstrip("0").rstrip(".")}
    if round(number, 2) == number:
        forms.add(f"{number:,.2f}")
    return forms


def numbers(value) -> list[float]:
    """Every number in a JSON value, nested ones too (booleans are not numbers)."""
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, (int, float)):
        return [value]
    if isinstance(value, dict):
        return [n for item in value.values() for n in numbers(item)]
    if isinstance(value, list):
        return [n for item in value for n in numbers(item)]
    return []


def assert_whole(text: str, expected: list[float], columns: int) -> None:
    """Each expected number appears as a whole token (each token counts once); nothing is cut with "…";
    every table line fits the width."""
    assert "…" not in text
    tokens = Counter(token.rstrip(",") for token in _TOKEN.findall(text))
    missing = []
    for number in expected:
        form = next((f for f in shown(number) if tokens[f] > 0), None)
        if form is None:
            missing.append(number)
        else:
            tokens[form] -= 1
    assert not missing, f"{len(missing)} of {len(expected)} numbers not printed whole, e.g. {missing[:5]}"
    too_wide = [line for line in text.splitlines() if _TABLE_LINE.match(line) and cell_len(line) > columns]
    assert not too_wide, too_wide[:3]


def machine(db: str, argv: list[str]):
    code, out, err = captured(["--db", db, *argv, "--json"])
    assert code == 0, err
    return json.loads(out)


def at_widths(db: str, argv: list[str], width) -> dict[int, str]:
    """The command's output at each of the WIDTHS."""
    texts = {}
    for columns in WIDTHS:
        width(columns)
        code, texts[columns], err = captured(["--db", db, *argv])
        assert code == 0, err
    return texts


@pytest.mark.parametrize("by", ["quarter", "month", "year", "channel"])
def test_kpi_tables(generated_shop, width, by):
    rows = machine(generated_shop, ["kpis", "--by", by])
    for columns, text in at_widths(generated_shop, ["kpis", "--by", by], width).items():
        assert_whole(text, [n for row in rows for key in KPI_TABLE for n in numbers(row[key])], columns)


@pytest.mark.parametrize("argv", [["cohorts"], ["cohorts", "--metric", "revenue"],
                                  ["cohorts", "--by", "quarter", "--metric", "orders"]], ids=" ".join)
def test_cohort_tables(generated_shop, width, argv):
    rows = machine(generated_shop, argv)
    assert len(rows) >= 12
    texts = at_widths(generated_shop, argv, width)
    for columns, text in texts.items():
        assert_whole(text, [n for row in rows for n in numbers([row["customers"], row["values"]])], columns)
    if argv == ["cohorts"]:  # 36 monthly offsets do not fit even 160 columns: the table comes in parts
        assert "(part 1 of " in texts[160]


@pytest.mark.parametrize(("argv", "shown_part"), [
    (["kpis"], lambda kpis: {k: v for k, v in kpis.items() if k != "period"}),
    (["segments"], lambda found: found["segments"]),
    (["summary"], lambda summary: summary),
    (["reorders"], lambda due: [due["consumables"], due["due"]]),
], ids=["kpis", "segments", "summary", "reorders"])
def test_records_and_other_tables(generated_shop, width, argv, shown_part):
    expected = numbers(shown_part(machine(generated_shop, argv)))
    for columns, text in at_widths(generated_shop, argv, width).items():
        assert_whole(text, expected, columns)


def test_customer_show(generated_shop, width):
    customer = machine(generated_shop, ["reorders"])["due"][0]["customer"]  # orders, a stage, a reorder due
    view = machine(generated_shop, ["customer", "show", customer])
    expected = numbers([view["kpis"], view["rfm"], view["predictions"], view["lifecycle"]["risk_score"]])
    expected += [len(order["lines"]) for order in view["orders"][-20:]]
    for columns, text in at_widths(generated_shop, ["customer", "show", customer], width).items():
        assert_whole(text, expected, columns)


def test_a_screen_too_narrow_for_any_table_gets_one_block_per_row(generated_shop, width):
    width(20)  # not even the period and one KPI fit beside each other
    rows = machine(generated_shop, ["kpis", "--by", "year"])
    code, text, err = captured(["--db", generated_shop, "kpis", "--by", "year"])
    first = rows[0]
    block = text[text.index(f"period: {first['period']}"):]
    assert block.splitlines()[1:3] == [f"  customers: {first['customers']:,}",
                                       f"  new customers: {first['new_customers']:,}"]
    assert_whole(text, [n for row in rows for key in KPI_TABLE for n in numbers(row[key])], 20)


def test_rows_take_their_columns_from_every_row(capsys):
    # The first model of a backtest may have failed: its row has only an error.
    output.print_rows("backtest", [{"model": "bgnbd", "error": "did not converge"},
                                   {"model": "heuristic", "mae": 0.25, "rmse": 0.5}])
    header = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("┃"))
    assert [cell.strip() for cell in header.strip("┃").split("┃")] == ["model", "error", "mae", "rmse"]


def test_human_numbers():
    # The forms `shown` above expects: money (Decimal) with 2 decimals, ratios with up to 4.
    from decimal import Decimal
    assert (human(Decimal("53535")), human(0.12345), human(1.5), human(1234567)) == ("53,535.00", "0.1235", "1.5",
                                                                                      "1,234,567")
