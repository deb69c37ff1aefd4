from datetime import UTC, date, datetime, timedelta, timezone

import attrs
import pytest

from cabinet_billing import (
    ConflictError,
    CurrencyMismatchError,
    InvalidTransitionError,
    Invoice,
    Money,
    TaxMode,
    TaxRate,
    ValidationError,
)
from cabinet_billing.adapters.memory.documents import PlainTextRenderer
from cabinet_billing.domain.documents import (
    Act,
    Contract,
    ContractStatus,
    ReconciliationSide,
    assign_expenses_to_act,
    billing_month,
    build_act,
    build_reconciliation,
    contract_for_first_payment,
    ensure_payer_replaceable,
    release_act,
)
from cabinet_billing.domain.expense import Expense, ExpenseBook
from cabinet_billing.domain.invoice import InvoiceLine
from cabinet_billing.domain.ledger import EntryKind, Ledger
from cabinet_billing.domain.numbering import NumberFormat
from cabinet_billing.errors import PayerNotReplaceableError

VAT = TaxRate("20", "НДС")
AC_AMOUNTS = ("22.4137", "34.4827", "22.4137", "21.3464")


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


def expense(
    eid: str,
    day: date,
    amount: str,
    *,
    payer: str | None = "p-1",
    account: str = "acc-1",
    currency: str = "RUB",
) -> Expense:
    return Expense(eid, account, "VPS-1", day, Money(amount, currency), payer_id=payer)


def march_expenses() -> list[Expense]:
    return [expense(f"e{i}", date(2024, 3, i), a) for i, a in enumerate(AC_AMOUNTS, start=1)]


def book_of(expenses: list[Expense]) -> ExpenseBook:
    """A book of ``acc-1`` holding these very expenses (its changes show in them)."""
    book = ExpenseBook("acc-1")
    for e in expenses:
        book.add(e)
    return book


def march_act(expenses: list[Expense], act_id: str = "act-1") -> Act:
    act = build_act(
        act_id,
        "A-1",
        account_id="acc-1",
        payer_id="p-1",
        month=date(2024, 3, 15),
        expenses=expenses,
        rate=VAT,
    )
    assert act is not None
    return act


# ----------------------------------------------------------------------------- acts


@pytest.mark.spec("L8", "M2")
def test_act_lines_reproduce_astra_cloud_vat_to_the_cent() -> None:
    act = march_act(march_expenses())
    assert [str(ln.amounts.tax) for ln in act.lines] == [
        "3.74 RUB",
        "5.75 RUB",
        "3.73 RUB",
        "3.56 RUB",
    ]
    assert [str(ln.amounts.gross) for ln in act.lines] == [
        "22.42 RUB",
        "34.48 RUB",
        "22.41 RUB",
        "21.35 RUB",
    ]
    assert act.total.tax == rub("16.78")
    assert act.total.gross == rub("100.66")
    assert act.total.net == rub("83.88")
    for ln in act.lines:
        assert ln.amounts.net + ln.amounts.tax == ln.amounts.gross
    assert act.month == date(2024, 3, 1)
    assert act.period_end == date(2024, 4, 1)
    assert act.currency == "RUB"
    assert act.expense_ids == ("e1", "e2", "e3", "e4")
    assert act.lines[0].amount == rub("22.4137")


@pytest.mark.spec("L8")
def test_act_takes_only_the_month_the_account_and_the_payer() -> None:
    chosen = [
        expense("late-feb", date(2024, 2, 29), "5"),
        expense("first", date(2024, 3, 1), "10"),
        expense("last", date(2024, 3, 31), "20"),
        expense("april", date(2024, 4, 1), "40"),
        expense("other-payer", date(2024, 3, 10), "80", payer="p-2"),
        expense("other-account", date(2024, 3, 10), "160", account="acc-2"),
    ]
    act = march_act(chosen)
    assert act.expense_ids == ("first", "last")
    assert act.total.gross == rub("30.00")


@pytest.mark.spec("L8")
def test_act_for_the_account_takes_every_payer_and_orders_by_charge_date() -> None:
    chosen = [
        expense("b", date(2024, 3, 20), "10", payer="p-2"),
        expense("a", date(2024, 3, 2), "10", payer=None),
    ]
    act = build_act(
        "act-9",
        "A-9",
        account_id="acc-1",
        month=date(2024, 3, 1),
        expenses=chosen,
        rate=VAT,
    )
    assert act is not None
    assert act.payer_id is None
    assert act.expense_ids == ("a", "b")


@pytest.mark.spec("L8", "M3")
def test_act_with_tax_added_on_top() -> None:
    act = build_act(
        "act-1",
        "A-1",
        account_id="acc-1",
        month=date(2024, 3, 1),
        expenses=[expense("e1", date(2024, 3, 2), "638.71")],
        rate=TaxRate("10"),
        mode=TaxMode.EXCLUSIVE,
    )
    assert act is not None
    assert (act.total.net, act.total.tax, act.total.gross) == (
        rub("638.71"),
        rub("63.87"),
        rub("702.58"),
    )


@pytest.mark.spec("L8")
def test_empty_month_gives_no_act() -> None:
    assert march_act_or_none([expense("e1", date(2024, 2, 1), "10")]) is None
    assert march_act_or_none([]) is None


def march_act_or_none(expenses: list[Expense]) -> Act | None:
    return build_act(
        "act-1", "A-1", account_id="acc-1", month=date(2024, 3, 1), expenses=expenses, rate=VAT
    )


@pytest.mark.spec("L8")
def test_building_an_act_changes_no_expense() -> None:
    expenses = march_expenses()
    march_act(expenses)
    assert all(e.act_id is None for e in expenses)


@pytest.mark.spec("L8")
def test_assign_marks_the_expenses_of_the_act_only() -> None:
    expenses = [*march_expenses(), expense("april", date(2024, 4, 2), "10")]
    act, book = march_act(expenses), book_of(expenses)
    assert assign_expenses_to_act(act, book) == ("e1", "e2", "e3", "e4")
    assert [e.act_id for e in expenses] == ["act-1"] * 4 + [None]
    # Marking again with the same act is harmless; rebuilding the same act is allowed.
    assert assign_expenses_to_act(act, book) == ("e1", "e2", "e3", "e4")
    assert march_act(expenses).expense_ids == act.expense_ids


@pytest.mark.spec("L8")
def test_an_expense_already_in_an_act_cannot_go_into_another() -> None:
    expenses = march_expenses()
    assign_expenses_to_act(march_act(expenses), book_of(expenses))
    with pytest.raises(ConflictError) as info:
        march_act(expenses, act_id="act-2")
    message = str(info.value)
    assert "e1 (act act-1)" in message
    assert "e4 (act act-1)" in message
    assert "one act only" in message
    assert [e.act_id for e in expenses] == ["act-1"] * 4


@pytest.mark.spec("L8")
def test_assign_is_all_or_nothing() -> None:
    expenses = march_expenses()
    act = march_act(expenses, act_id="act-2")
    expenses[2].act_id = "act-1"
    with pytest.raises(ConflictError, match=r"e3 \(act act-1\)"):
        assign_expenses_to_act(act, book_of(expenses))
    assert [e.act_id for e in expenses] == [None, None, "act-1", None]


@pytest.mark.spec("L8")
def test_assign_needs_every_expense_of_the_act() -> None:
    expenses = march_expenses()
    act = march_act(expenses)
    with pytest.raises(ValidationError) as info:
        assign_expenses_to_act(act, book_of(expenses[:2]))
    assert info.value.value == ["e3", "e4"]
    assert "act 'act-1'" in str(info.value)
    assert all(e.act_id is None for e in expenses)


@pytest.mark.spec("L8")
def test_release_frees_the_expenses_for_a_new_act() -> None:
    expenses = march_expenses()
    act = march_act(expenses)
    other = expense("other", date(2024, 3, 9), "1")
    other.act_id = "act-7"
    book = book_of([*expenses, other])
    assign_expenses_to_act(act, book)
    assert release_act(act, book) == ("e1", "e2", "e3", "e4")
    assert all(e.act_id is None for e in expenses)
    assert other.act_id == "act-7"
    assert march_act(expenses, act_id="act-2").expense_ids == ("e1", "e2", "e3", "e4")


@pytest.mark.spec("L8")
def test_mixed_currencies_need_a_currency() -> None:
    mixed = [
        expense("r", date(2024, 3, 2), "10"),
        expense("e", date(2024, 3, 3), "5", currency="EUR"),
    ]
    with pytest.raises(CurrencyMismatchError) as info:
        march_act_or_none(mixed)
    assert str(info.value) == (
        "an expense of 2024-03 (an act has one currency: pass currency=) is in RUB, expected EUR"
    )
    act = build_act(
        "act-1",
        "A-1",
        account_id="acc-1",
        month=date(2024, 3, 1),
        expenses=mixed,
        rate=VAT,
        currency="eur",
    )
    assert act is not None
    assert act.expense_ids == ("e",)


@pytest.mark.spec("L8")
def test_act_needs_a_number() -> None:
    with pytest.raises(ValidationError, match="number=' ' is invalid: must be a non-empty text"):
        build_act(
            "act-1",
            " ",
            account_id="acc-1",
            month=date(2024, 3, 1),
            expenses=march_expenses(),
            rate=VAT,
        )


@pytest.mark.spec("L8")
def test_billing_month_is_the_first_day() -> None:
    assert billing_month(date(2024, 2, 29)) == date(2024, 2, 1)
    with pytest.raises(ValidationError, match="expected a date"):
        billing_month("2024-02")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- A4


@pytest.mark.spec("A4", "L8")
def test_payer_with_unpaid_expenses_in_an_act_cannot_be_replaced() -> None:
    expenses = march_expenses()
    act = march_act(expenses)
    assign_expenses_to_act(act, book_of(expenses))
    with pytest.raises(PayerNotReplaceableError) as info:
        ensure_payer_replaceable(expenses, "p-1")
    error = info.value
    assert isinstance(error, ConflictError)
    assert error.payer_id == "p-1"
    assert error.act_ids == ("act-1",)
    assert error.expense_ids == ("e1", "e2", "e3", "e4")
    assert str(error) == (
        "payer 'p-1': has unpaid expenses e1, e2, e3, e4 in act(s) act-1; pay the "
        "expenses, or delete the act(s) and make them out to the new payer"
    )
    assert [e.act_id for e in expenses] == ["act-1"] * 4


@pytest.mark.spec("A4")
def test_payer_is_replaceable_once_the_expenses_in_acts_are_paid() -> None:
    book = ExpenseBook("acc-1")
    expenses = march_expenses()
    for e in expenses:
        book.add(e)
    assign_expenses_to_act(march_act(expenses), book)
    book.fund("pay-1", rub("60.00"))
    with pytest.raises(PayerNotReplaceableError) as info:
        ensure_payer_replaceable(expenses, "p-1")
    assert info.value.expense_ids == ("e3", "e4")
    book.fund("pay-2", rub("40.6565"))
    ensure_payer_replaceable(expenses, "p-1")


@pytest.mark.spec("A4")
def test_payer_is_replaceable_when_unpaid_expenses_are_not_in_an_act() -> None:
    expenses = march_expenses()
    ensure_payer_replaceable(expenses, "p-1")
    act, book = march_act(expenses), book_of(expenses)
    assign_expenses_to_act(act, book)
    ensure_payer_replaceable(expenses, "p-2")
    release_act(act, book)
    ensure_payer_replaceable(expenses, "p-1")


# ----------------------------------------------------------------------------- statements

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def sample_ledger() -> Ledger:
    ledger = Ledger("acc-1")
    ledger.top_up(rub("100.00"), T0 - timedelta(days=10), ref="pay-1")
    ledger.charge(rub("30.00"), T0 - timedelta(days=1), ref="e0")
    ledger.top_up(Money("5", "EUR"), T0 + timedelta(days=1), ref="pay-eur")
    ledger.charge(rub("22.4137"), T0 + timedelta(days=4), ref="e1")
    ledger.top_up(rub("500.00"), T0 + timedelta(days=5), ref="pay-2", memo="Card payment")
    ledger.refund(rub("50.00"), T0 + timedelta(days=6), ref="r-1")
    ledger.reverse(4, T0 + timedelta(days=7))
    ledger.charge(rub("99.00"), T0 + timedelta(days=31), ref="e-april")
    return ledger


@pytest.mark.spec("L8")
def test_reconciliation_statement_columns_and_balances() -> None:
    ledger = sample_ledger()
    s = build_reconciliation(
        ledger.entries(),
        account_id="acc-1",
        payer_id="p-1",
        currency="rub",
        start=date(2024, 3, 1),
        end=date(2024, 4, 1),
    )
    assert s.currency == "RUB"
    assert s.payer_id == "p-1"
    assert s.opening == rub("70.00")
    assert [(ln.on, ln.side, ln.amount, ln.description) for ln in s.lines] == [
        (date(2024, 3, 5), ReconciliationSide.DEBIT, rub("22.4137"), "charge e1"),
        (date(2024, 3, 6), ReconciliationSide.CREDIT, rub("500.00"), "Card payment"),
        (date(2024, 3, 7), ReconciliationSide.DEBIT, rub("50.00"), "refund r-1"),
        (date(2024, 3, 8), ReconciliationSide.CREDIT, rub("22.4137"), "reversal of entry 4"),
    ]
    assert [ln.kind for ln in s.lines] == [
        EntryKind.CHARGE,
        EntryKind.TOP_UP,
        EntryKind.REFUND,
        EntryKind.REVERSAL,
    ]
    assert s.debits == rub("72.4137")
    assert s.credits == rub("522.4137")
    assert s.closing == rub("520.00")
    assert s.last_day == date(2024, 3, 31)
    assert s.lines[0].debit == rub("22.4137")
    assert s.lines[0].credit == rub("0")


@pytest.mark.spec("L8")
def test_statement_dates_follow_the_given_time_zone() -> None:
    ledger = Ledger("acc-1")
    # 23:30 UTC on Feb 29 is already March 1 in Kyiv (UTC+2).
    ledger.top_up(rub("10"), datetime(2024, 2, 29, 23, 30, tzinfo=UTC), ref="pay-1")
    args = {"account_id": "acc-1", "currency": "RUB", "start": date(2024, 3, 1)}
    in_utc = build_reconciliation(ledger.entries(), end=date(2024, 4, 1), **args)  # type: ignore[arg-type]
    kyiv = timezone(timedelta(hours=2))
    in_kyiv = build_reconciliation(ledger.entries(), end=date(2024, 4, 1), tz=kyiv, **args)  # type: ignore[arg-type]
    assert (in_utc.opening, len(in_utc.lines)) == (rub("10"), 0)
    assert (in_kyiv.opening, len(in_kyiv.lines)) == (rub("0"), 1)
    assert in_kyiv.lines[0].on == date(2024, 3, 1)


@pytest.mark.spec("L8")
def test_statement_of_an_unused_currency_is_all_zero() -> None:
    s = build_reconciliation(
        sample_ledger().entries(),
        account_id="acc-1",
        currency="USD",
        start=date(2024, 3, 1),
        end=date(2024, 4, 1),
    )
    assert (s.opening, s.debits, s.credits, s.closing, s.lines) == (
        Money("0", "USD"),
        Money("0", "USD"),
        Money("0", "USD"),
        Money("0", "USD"),
        (),
    )


@pytest.mark.spec("L8")
def test_statement_period_must_not_be_empty() -> None:
    with pytest.raises(ValidationError) as info:
        build_reconciliation(
            [],
            account_id="acc-1",
            currency="RUB",
            start=date(2024, 3, 1),
            end=date(2024, 3, 1),
        )
    assert str(info.value) == (
        "end=datetime.date(2024, 3, 1) is invalid: must be after the start 2024-03-01"
    )


@pytest.mark.spec("L8")
def test_statement_refuses_entries_of_another_account() -> None:
    other = Ledger("acc-2")
    other.top_up(rub("1"), T0, ref="x")
    with pytest.raises(ValidationError) as info:
        build_reconciliation(
            other.entries(),
            account_id="acc-1",
            currency="RUB",
            start=date(2024, 3, 1),
            end=date(2024, 4, 1),
        )
    assert "entry 1 of account 'acc-2'" in str(info.value)
    assert "only entries of account 'acc-1'" in str(info.value)


@pytest.mark.spec("L8")
def test_statement_refuses_inconsistent_totals() -> None:
    s = build_reconciliation(
        sample_ledger().entries(),
        account_id="acc-1",
        currency="RUB",
        start=date(2024, 3, 1),
        end=date(2024, 4, 1),
    )
    with pytest.raises(ValidationError, match=r"must equal opening 70.00 RUB \+ credits"):
        attrs.evolve(s, closing=rub("1"))


# ----------------------------------------------------------------------------- contracts


@pytest.mark.spec("L8")
def test_contract_is_created_by_the_first_payment_only() -> None:
    first = contract_for_first_payment([], "p-1", "pay-1", date(2024, 3, 5))
    assert first == Contract(
        number="1",
        payer_id="p-1",
        started_on=date(2024, 3, 5),
        payment_id="pay-1",
        status=ContractStatus.ACTIVE,
    )
    assert contract_for_first_payment([first], "p-1", "pay-2", date(2024, 4, 5)) is None
    second = contract_for_first_payment([first], "p-2", "pay-3", date(2024, 4, 6))
    assert second is not None
    assert (second.number, second.payer_id) == ("2", "p-2")


@pytest.mark.spec("L8")
def test_contract_numbering_is_configurable() -> None:
    existing = [Contract("Д-0001", "p-9", date(2024, 1, 1))]
    made = contract_for_first_payment(
        existing,
        "p-1",
        "pay-1",
        date(2024, 3, 5),
        number_format=NumberFormat("Д-{seq:04}"),
    )
    assert made is not None
    assert made.number == "Д-0002"


@pytest.mark.spec("L8")
def test_a_used_contract_number_is_refused() -> None:
    existing = [Contract("7", "p-9", date(2024, 1, 1))]
    with pytest.raises(ConflictError) as info:
        contract_for_first_payment(existing, "p-1", "pay-1", date(2024, 3, 5), number="7")
    assert str(info.value) == "contract number '7': already used; contract numbers are unique"


@pytest.mark.spec("L8")
def test_contract_termination_and_a_new_contract_after_it() -> None:
    first = contract_for_first_payment([], "p-1", "pay-1", date(2024, 3, 5))
    assert first is not None
    ended = first.terminate(date(2024, 6, 1))
    assert (ended.status, ended.terminated_on) == (ContractStatus.TERMINATED, date(2024, 6, 1))
    assert first.status is ContractStatus.ACTIVE
    with pytest.raises(InvalidTransitionError, match="cannot go from terminated to terminated"):
        ended.terminate(date(2024, 7, 1))
    with pytest.raises(ValidationError, match="must not be before the start 2024-03-05"):
        first.terminate(date(2024, 3, 1))
    renewed = contract_for_first_payment([ended], "p-1", "pay-9", date(2024, 9, 1))
    assert renewed is not None
    assert (renewed.number, renewed.payment_id) == ("2", "pay-9")


@pytest.mark.spec("L8")
def test_contract_needs_a_number_and_a_payer() -> None:
    with pytest.raises(ValidationError, match="payer_id='' is invalid"):
        Contract("1", "", date(2024, 3, 5))


# ----------------------------------------------------------------------------- rendering


def plain(text: str) -> str:
    # CLDR separates groups, signs and year marks with (narrow) no-break spaces.
    return text.replace("\xa0", " ").replace("\u202f", " ")


@pytest.mark.spec("L8", "M7")
def test_plain_text_act_in_russian() -> None:
    text = PlainTextRenderer().render_act(march_act(march_expenses()), "ru").decode("utf-8")
    lines = plain(text).splitlines()
    assert lines[0] == "Акт выполненных работ № A-1"
    assert lines[1] == "Период: 1 мар. 2024 г. – 31 мар. 2024 г."
    assert lines[3] == "Плательщик: p-1"
    assert lines[4] == "Налог: НДС 20 %"
    assert lines[6].split() == ["Дата", "Услуга", "Без", "налога", "Налог", "Всего"]
    assert lines[7].endswith("18,68 ₽   3,74 ₽   22,42 ₽")
    assert lines[7] == "1 мар. 2024 г.  VPS-1      18,68 ₽   3,74 ₽   22,42 ₽"
    assert lines[-1] == "Итого                      83,88 ₽  16,78 ₽  100,66 ₽"


@pytest.mark.spec("L8", "M7")
def test_plain_text_statement_in_ukrainian() -> None:
    s = build_reconciliation(
        sample_ledger().entries(),
        account_id="acc-1",
        currency="RUB",
        start=date(2024, 3, 1),
        end=date(2024, 4, 1),
    )
    text = PlainTextRenderer(date_format="short").render_statement(s, "uk").decode("utf-8")
    lines = [" ".join(ln.replace("\xa0", " ").split()) for ln in text.splitlines()]
    assert lines[:3] == [
        "Акт звірки взаєморозрахунків",
        "Період: 01.03.24 – 31.03.24",
        "Обліковий запис: acc-1",
    ]
    assert lines[4:] == [
        "Дата Операція Дебет Кредит",
        "Сальдо на початок 70,00 RUB",
        "05.03.24 Списання e1 22,4137 RUB",
        "06.03.24 Оплата pay-2 500,00 RUB",
        "07.03.24 Повернення r-1 50,00 RUB",
        "08.03.24 Сторно e1 22,4137 RUB",
        "Обороти за період 72,4137 RUB 522,4137 RUB",
        "Сальдо на кінець 520,00 RUB",
    ]


@pytest.mark.spec("L8", "M7")
def test_plain_text_statement_puts_a_debt_in_the_debit_column() -> None:
    ledger = Ledger("acc-1")
    ledger.charge(Money("12.50", "EUR"), T0, ref="e1")
    s = build_reconciliation(
        ledger.entries(),
        account_id="acc-1",
        currency="EUR",
        start=date(2024, 4, 1),
        end=date(2024, 5, 1),
    )
    lines = PlainTextRenderer().render_statement(s, "de").decode("utf-8").splitlines()
    assert lines[0] == "Saldenbestätigung"
    header, opening, *_rest, closing = lines[4:]
    assert header.split() == ["Datum", "Buchung", "Soll", "Haben"]
    assert opening.replace("\xa0", " ").split() == ["Anfangssaldo", "12,50", "€"]
    assert opening.index("12,50") < header.index("Haben")
    assert closing.replace("\xa0", " ").split() == ["Endsaldo", "12,50", "€"]


@pytest.mark.spec("L8", "M7", "L4")
def test_plain_text_invoice_in_english_and_unknown_language_falls_back() -> None:
    invoice = Invoice.issue(
        "i-1",
        "HOR-11111-007",
        "acc-1",
        [InvoiceLine("Business plan", Money("638.71", "UAH"))],
        issued_on=date(2024, 3, 1),
        due_on=date(2024, 3, 15),
        tax_rate=TaxRate("20", "VAT"),
        payer_id="p-1",
    )
    text = PlainTextRenderer().render_invoice(invoice, "en").decode("utf-8")
    assert text.splitlines()[:5] == [
        "Invoice No. HOR-11111-007",
        "Issued: Mar 1, 2024",
        "Due: Mar 15, 2024",
        "Account: acc-1",
        "Payer: p-1",
    ]
    assert text.splitlines()[-1].split() == ["Total", "UAH532.26", "UAH106.45", "UAH638.71"]
    french = PlainTextRenderer().render_invoice(invoice, "fr").decode("utf-8")
    assert french.splitlines()[0] == "Invoice No. HOR-11111-007"
    assert "638,71" in french
