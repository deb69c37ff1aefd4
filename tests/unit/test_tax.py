import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cabinet_billing import (
    CurrencyMismatchError,
    InvalidAmountError,
    Money,
    NotFoundError,
    TaxMode,
    TaxPolicy,
    TaxRate,
    ValidationError,
)
from cabinet_billing.domain.money import ROUNDING_MODES, Rounding
from cabinet_billing.domain.tax import TaxAmounts, _total, tax_amounts, tax_breakdown
from cabinet_billing.testing import strategies

pytestmark = pytest.mark.spec("M3")


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


@pytest.mark.parametrize(
    ("gross", "tax"),
    [("20.00", "3.33"), ("100.00", "16.67"), ("250.00", "41.67")],
)
def test_astra_tax_included_at_20_percent(gross: str, tax: str) -> None:
    line = tax_amounts(rub(gross), TaxRate("20"), TaxMode.INCLUSIVE)
    assert line.tax == rub(tax)
    assert line.gross == rub(gross)
    assert line.net == rub(gross) - rub(tax)


def test_astra_tax_added_at_10_percent() -> None:
    line = tax_amounts(rub("638.71"), TaxRate("10"), TaxMode.EXCLUSIVE)
    assert (line.net, line.tax, line.gross) == (rub("638.71"), rub("63.87"), rub("702.58"))


@pytest.mark.spec("M2")
def test_astra_expense_breakdown_lines_and_totals_agree_to_the_cent() -> None:
    expenses = [rub(a) for a in ("22.4137", "34.4827", "22.4137", "21.3464")]
    result = tax_breakdown(expenses, TaxRate("20"), TaxMode.INCLUSIVE)
    assert [ln.tax for ln in result.lines] == [rub("3.74"), rub("5.75"), rub("3.73"), rub("3.56")]
    assert result.total.tax == rub("16.78")
    assert result.total.gross == rub("100.66")
    assert result.total.net == rub("83.88")
    for part in ("net", "tax", "gross"):
        assert sum(getattr(ln, part) for ln in result.lines) == getattr(result.total, part)


def test_breakdown_with_a_rate_per_line_totals_each_rate() -> None:
    vat20, vat0 = TaxRate("20"), TaxRate("0", "VAT exempt")
    result = tax_breakdown(
        [Money("10.00", "EUR"), Money("3.333", "EUR"), Money("5", "EUR")],
        [vat20, vat20, vat0],
        TaxMode.EXCLUSIVE,
    )
    assert [ln.gross for ln in result.lines] == [
        Money("12.00", "EUR"),
        Money("4.00", "EUR"),
        Money("5.00", "EUR"),
    ]
    (rate_a, totals_a), (rate_b, totals_b) = result.by_rate
    assert (rate_a, totals_a.tax) == (vat20, Money("2.67", "EUR"))
    assert (rate_b, totals_b.tax) == (vat0, Money("0", "EUR"))
    assert result.total == TaxAmounts(
        net=Money("18.33", "EUR"),
        tax=Money("2.67", "EUR"),
        gross=Money("21.00", "EUR"),
    )


def test_breakdown_refuses_bad_input() -> None:
    with pytest.raises(ValidationError, match="at least one line"):
        tax_breakdown([], TaxRate("20"), TaxMode.INCLUSIVE)
    with pytest.raises(ValidationError, match=r"one per line \(2\)"):
        tax_breakdown([rub("1"), rub("2")], [TaxRate("20")], TaxMode.INCLUSIVE)
    with pytest.raises(CurrencyMismatchError):
        tax_breakdown([rub("1"), Money("1", "EUR")], TaxRate("20"), TaxMode.INCLUSIVE)


def test_tax_amounts_must_add_up() -> None:
    with pytest.raises(ValidationError, match="must equal net"):
        TaxAmounts(net=rub("1"), tax=rub("1"), gross=rub("3"))


def test_rates_are_validated_percentages() -> None:
    assert str(TaxRate("20", "НДС")) == "НДС 20%"
    assert str(TaxRate("7.50")) == "VAT 7.5%"
    with pytest.raises(ValidationError, match="percentage"):
        TaxRate("-1")
    with pytest.raises(InvalidAmountError):
        TaxRate(0.2)


def test_policy_has_a_rate_per_country_and_an_optional_default() -> None:
    policy = TaxPolicy(
        TaxMode.INCLUSIVE,
        {"RU": TaxRate("20"), "ua": TaxRate("20", "ПДВ")},
        default=TaxRate("0"),
    )
    assert policy.rate_for("ru") == TaxRate("20")
    assert policy.rate_for("UA").name == "ПДВ"
    assert policy.rate_for("DE") == TaxRate("0")
    assert policy.amounts(rub("100.00"), "RU").tax == rub("16.67")
    assert policy.breakdown([rub("20.00")], "RU").total.tax == rub("3.33")
    strict = TaxPolicy(TaxMode.EXCLUSIVE, {"DE": TaxRate("19")})
    with pytest.raises(NotFoundError, match="'FR'"):
        strict.rate_for("FR")
    with pytest.raises(ValidationError, match="alpha-2"):
        TaxPolicy(TaxMode.EXCLUSIVE, {"Germany": TaxRate("19")})


@pytest.mark.spec("M2")
@pytest.mark.parametrize("mode", list(TaxMode))
@pytest.mark.parametrize("amount", ["30.00", "22.4137", "0.01", "1000", "19.905"])
def test_a_one_line_breakdown_totals_are_the_line_to_the_digit(mode: TaxMode, amount: str) -> None:
    result = tax_breakdown([rub(amount)], TaxRate("20"), mode)
    summed = _total(result.lines)  # what the totals of several lines are made by
    for total in (result.total, result.by_rate[0][1]):
        assert [repr(m) for m in (total.net, total.tax, total.gross)] == [
            repr(m) for m in (summed.net, summed.tax, summed.gross)
        ]
    assert result.by_rate[0][0] == TaxRate("20")


@given(
    amount=strategies.money(min_value="-1000", max_value="100000", places=4),
    rate=strategies.tax_rates(),
    mode=st.sampled_from(TaxMode),
    rounding=st.sampled_from([Rounding(mode) for mode in sorted(ROUNDING_MODES)]),
)
def test_one_line_breaks_down_as_a_line_among_others_would(
    amount: Money, rate: TaxRate, mode: TaxMode, rounding: Rounding
) -> None:
    # One rate per line takes the general way; one rate for one line the short one.
    general = tax_breakdown([amount], [rate], mode, rounding)
    short = tax_breakdown([amount], rate, mode, rounding)
    assert short == general
    assert [str(m) for m in attrs.astuple(short.total, recurse=False)] == [
        str(m) for m in attrs.astuple(general.total, recurse=False)
    ]
