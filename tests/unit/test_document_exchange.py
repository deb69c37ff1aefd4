from datetime import date

import pytest

from cabinet_billing import (
    ConflictError,
    InvalidTransitionError,
    Money,
    NotFoundError,
    Payer,
    TaxRate,
    ValidationError,
)
from cabinet_billing.adapters.memory.documents import InMemoryDocumentExchange, PlainTextRenderer
from cabinet_billing.domain.documents import (
    Act,
    DocumentPolicy,
    EDocumentExchange,
    ExchangeRequisites,
    ExchangeStatus,
    build_act,
    ensure_can_issue_acts,
)
from cabinet_billing.domain.expense import Expense
from cabinet_billing.domain.payer import BankDetails, PayerKind, TaxId
from cabinet_billing.errors import DocumentExchangeError
from cabinet_billing.ports.documents import (
    DeliveryStatus,
    DocumentExchange,
    DocumentRenderer,
    ExchangeReceipt,
)
from cabinet_billing.rules.requisites import check_edrpou, check_iban, check_rnokpp

pytestmark = pytest.mark.spec("L8")

EDRPOU = "32855961"
RNOKPP = "1759013776"
IBAN = "UA213223130000026007233566001"
CHECKS = {"edrpou": check_edrpou, "rnokpp": check_rnokpp, "iban": check_iban}
DAY = date(2024, 3, 1)
HS = DocumentPolicy(acts_require_exchange=True)


def company() -> ExchangeRequisites:
    return ExchangeRequisites(edrpou=EDRPOU, iban=IBAN)


def switched_on() -> EDocumentExchange:
    exchange = EDocumentExchange("acc-1", "Vchasno")
    exchange.switch_on(company(), on=DAY, checks=CHECKS)
    return exchange


def an_act(act_id: str = "act-1") -> Act:
    act = build_act(
        act_id,
        "A-1",
        account_id="acc-1",
        month=DAY,
        expenses=[Expense("e1", "acc-1", "Site", DAY, Money("100", "UAH"))],
        rate=TaxRate("20", "ПДВ"),
    )
    assert act is not None
    return act


# ----------------------------------------------------------------------------- switching


def test_a_new_exchange_is_off() -> None:
    exchange = EDocumentExchange("acc-1", "Vchasno")
    assert exchange.status is ExchangeStatus.OFF
    assert not exchange.is_on
    assert exchange.requisites is None
    assert exchange.since is None
    exchange.ensure_requisites_editable()


@pytest.mark.parametrize(
    "requisites",
    [
        ExchangeRequisites(edrpou=EDRPOU, iban=IBAN),
        ExchangeRequisites(rnokpp=RNOKPP, iban=IBAN),
    ],
)
def test_switching_on_with_edrpou_or_rnokpp_plus_iban(requisites: ExchangeRequisites) -> None:
    exchange = EDocumentExchange("acc-1", "Vchasno")
    exchange.switch_on(requisites, on=DAY, checks=CHECKS)
    assert exchange.is_on
    assert exchange.status is ExchangeStatus.ON
    assert exchange.requisites == requisites
    assert exchange.since == DAY


@pytest.mark.parametrize(
    ("requisites", "missing"),
    [
        (ExchangeRequisites(), ("edrpou or rnokpp", "iban")),
        (ExchangeRequisites(edrpou=EDRPOU), ("iban",)),
        (ExchangeRequisites(rnokpp=RNOKPP), ("iban",)),
        (ExchangeRequisites(iban=IBAN), ("edrpou or rnokpp",)),
    ],
)
def test_switching_on_names_what_is_missing(
    requisites: ExchangeRequisites, missing: tuple[str, ...]
) -> None:
    exchange = EDocumentExchange("acc-1", "M.E.Doc")
    with pytest.raises(ValidationError) as info:
        exchange.switch_on(requisites, on=DAY)
    assert info.value.field == "requisites"
    assert info.value.value == missing
    message = str(info.value)
    assert f"missing: {', '.join(missing)}" in message
    assert "M.E.Doc exchange needs EDRPOU (companies) or RNOKPP (sole proprietors) plus IBAN" in (
        message
    )
    assert not exchange.is_on
    assert exchange.requisites is None


def test_switching_on_runs_the_number_checks() -> None:
    exchange = EDocumentExchange("acc-1", "Vchasno")
    with pytest.raises(ValidationError) as info:
        exchange.switch_on(ExchangeRequisites(edrpou="32855962", iban=IBAN), on=DAY, checks=CHECKS)
    assert info.value.field == "edrpou"
    assert info.value.value == "32855962"
    assert not exchange.is_on
    with pytest.raises(ValidationError, match="iban"):
        exchange.switch_on(
            ExchangeRequisites(rnokpp=RNOKPP, iban="UA213223130000026007233566002"),
            on=DAY,
            checks=CHECKS,
        )
    assert exchange.requisites is None


def test_requisites_drop_blanks_and_come_from_a_payer() -> None:
    payer = Payer(
        "p-1",
        PayerKind.LEGAL_ENTITY,
        "UA",
        "Lala limited",
        tax_ids=(TaxId("edrpou", EDRPOU),),
        bank=BankDetails(iban="ua21 3223 1300 0002 6007 2335 6600 1"),
    )
    assert ExchangeRequisites.from_payer(payer) == company()
    bare = Payer("p-2", PayerKind.PRIVATE_PERSON, "UA", "Ivan")
    assert ExchangeRequisites.from_payer(bare).missing() == ("edrpou or rnokpp", "iban")
    assert ExchangeRequisites(rnokpp="1759 013 776").rnokpp == RNOKPP
    with pytest.raises(ValidationError) as info:
        ExchangeRequisites(iban=None)
    assert str(info.value) == "iban=None is invalid: expected text, or '' when not given"


def test_switching_on_twice_and_off_twice_are_refused() -> None:
    exchange = switched_on()
    with pytest.raises(InvalidTransitionError) as info:
        exchange.switch_on(company(), on=date(2024, 3, 2))
    assert str(info.value) == "cannot go from on to on; allowed from on: off"
    assert exchange.since == DAY
    exchange.switch_off(on=date(2024, 3, 3))
    with pytest.raises(InvalidTransitionError, match="cannot go from off to off; allowed"):
        exchange.switch_off(on=date(2024, 3, 4))
    assert exchange.since == date(2024, 3, 3)


def test_requisites_are_locked_while_the_exchange_is_on() -> None:
    exchange = switched_on()
    with pytest.raises(ConflictError) as info:
        exchange.ensure_requisites_editable()
    assert str(info.value) == (
        "requisites of account 'acc-1': cannot be changed while the Vchasno e-document "
        "exchange is on; switch it off first, edit them, then switch it on again"
    )
    assert exchange.is_on


def test_switch_off_edit_switch_on_again() -> None:
    exchange = switched_on()
    exchange.switch_off(on=date(2024, 4, 1))
    assert exchange.status is ExchangeStatus.OFF
    assert exchange.requisites == company()
    exchange.ensure_requisites_editable()
    fop = ExchangeRequisites(rnokpp=RNOKPP, iban=IBAN)
    exchange.switch_on(fop, on=date(2024, 4, 2), checks=CHECKS)
    assert exchange.requisites == fop
    assert exchange.since == date(2024, 4, 2)


def test_exchange_needs_an_account_and_a_provider() -> None:
    with pytest.raises(ValidationError, match="provider='' is invalid"):
        EDocumentExchange("acc-1", "")


# ----------------------------------------------------------------------------- acts gating


def test_acts_need_no_exchange_by_default() -> None:
    ensure_can_issue_acts(DocumentPolicy(), None)
    ensure_can_issue_acts(DocumentPolicy(), EDocumentExchange("acc-1", "Vchasno"))


def test_acts_are_produced_only_while_the_exchange_is_on_when_the_policy_says_so() -> None:
    exchange = EDocumentExchange("acc-1", "Vchasno")
    with pytest.raises(ConflictError) as info:
        ensure_can_issue_acts(HS, exchange)
    assert str(info.value) == (
        "acts of account 'acc-1': are produced only while the e-document exchange is on; "
        "Vchasno is off; switch it on with EDRPOU or RNOKPP plus IBAN"
    )
    with pytest.raises(ConflictError, match="it is not set up"):
        ensure_can_issue_acts(HS, None)
    exchange.switch_on(company(), on=DAY)
    ensure_can_issue_acts(HS, exchange)
    exchange.switch_off(on=DAY)
    with pytest.raises(ConflictError, match="Vchasno is off"):
        ensure_can_issue_acts(HS, exchange)


# ----------------------------------------------------------------------------- adapters


def test_in_memory_exchange_records_what_it_was_sent() -> None:
    exchange = InMemoryDocumentExchange("Vchasno")
    port: DocumentExchange = exchange
    exchange.connect("acc-1")
    assert port.is_connected("acc-1")
    assert port.provider == "Vchasno"
    act = an_act()
    receipt = port.send_act(act, company())
    assert receipt == ExchangeReceipt("Vchasno", "Vchasno-1", "A-1", DeliveryStatus.SENT)
    assert port.send_act(act, company()) is receipt
    assert [(s.act, s.requisites, s.external_id) for s in exchange.sent] == [
        (act, company(), "Vchasno-1")
    ]
    signed = exchange.mark("Vchasno-1", DeliveryStatus.SIGNED)
    assert port.receipt("Vchasno-1") == signed
    assert signed.status is DeliveryStatus.SIGNED


def test_in_memory_exchange_can_fail_and_records_nothing() -> None:
    exchange = InMemoryDocumentExchange("Vchasno", failure="service unavailable")
    exchange.connect("acc-1")
    with pytest.raises(DocumentExchangeError) as info:
        exchange.send_act(an_act(), company())
    assert str(info.value) == (
        "Vchasno did not take document 'A-1': service unavailable; "
        "check the connection and send it again"
    )
    assert (info.value.provider, info.value.document) == ("Vchasno", "A-1")
    assert exchange.sent == ()
    exchange.failure = None
    assert exchange.send_act(an_act(), company()).external_id == "Vchasno-1"


def test_in_memory_exchange_refuses_an_account_not_connected() -> None:
    exchange = InMemoryDocumentExchange()
    exchange.connect("acc-1")
    exchange.disconnect("acc-1")
    assert not exchange.is_connected("acc-1")
    with pytest.raises(DocumentExchangeError, match="account 'acc-1' is not registered"):
        exchange.send_act(an_act(), company())
    assert exchange.sent == ()


def test_in_memory_exchange_unknown_document() -> None:
    exchange = InMemoryDocumentExchange()
    with pytest.raises(NotFoundError, match="no exchanged document with id 'x-1'"):
        exchange.receipt("x-1")
    with pytest.raises(NotFoundError):
        exchange.mark("x-1", DeliveryStatus.REJECTED)


def test_plain_text_renderer_is_a_document_renderer() -> None:
    renderer: DocumentRenderer = PlainTextRenderer()
    text = renderer.render_act(an_act(), "uk").decode("utf-8")
    assert text.splitlines()[0] == "Акт виконаних робіт № A-1"
    assert text.endswith("\n")
