from __future__ import annotations

import enum
import gettext
import io
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Any

import attrs
import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from cabinet_billing import InvoiceStatus, Money, PaymentStatus, ServiceStatus, ValidationError
from cabinet_billing.app import context as core
from cabinet_billing.domain.credit import StatementStatus
from cabinet_billing.domain.documents import ContractStatus
from cabinet_billing.domain.events import BillingEvent
from cabinet_billing.domain.notifications import Notification, NotificationCategory
from cabinet_billing.domain.saved_method import SavedMethodStatus
from cabinet_billing.domain.service import ServiceOperation
from cabinet_billing.domain.support import TicketStatus
from cabinet_billing.l10n import (
    MESSAGES,
    SUPPORTED_LOCALES,
    format_status,
    render_message,
    render_notification,
    translate,
    translations,
)
from cabinet_billing.rules.credit_limit import CreditStatus
from cabinet_billing.rules.presets import ASTRA_CLOUD

pytestmark = pytest.mark.spec("M7")

LOCALE_DIR = Path(str(files("cabinet_billing") / "locale"))
SRC = Path(str(files("cabinet_billing"))).parent
STATUS_ENUMS: tuple[type[enum.Enum], ...] = (
    InvoiceStatus,
    PaymentStatus,
    ServiceStatus,
    ServiceOperation,
    CreditStatus,
    StatementStatus,
    SavedMethodStatus,
    TicketStatus,
    ContractStatus,
)


def template() -> Catalog:
    with (LOCALE_DIR / "cabinet_billing.pot").open("rb") as pot:
        return read_po(pot)


def catalog(language: str) -> Catalog:
    with (LOCALE_DIR / language / "LC_MESSAGES" / "cabinet_billing.po").open("rb") as po:
        return read_po(po, locale=language)


def plain(text: str) -> str:
    return text.replace("\xa0", " ").replace("\u202f", " ")


@pytest.mark.parametrize("language", SUPPORTED_LOCALES)
def test_every_message_is_translated_in_every_language(language: str) -> None:
    ids = {m.id for m in template() if m.id}
    po = catalog(language)
    translated = {m.id: m for m in po if m.id}
    assert sorted(ids - translated.keys()) == [], f"{language} lacks these messages"
    assert sorted(translated.keys() - ids) == [], f"{language} has messages no code uses"
    untranslated = sorted(i for i, m in translated.items() if not m.string or m.fuzzy)
    assert untranslated == [], f"{language} leaves these untranslated or fuzzy"
    assert po.obsolete == {}


@pytest.mark.parametrize("language", SUPPORTED_LOCALES)
def test_the_shipped_compiled_catalogs_match_their_sources(language: str) -> None:
    with (LOCALE_DIR / language / "LC_MESSAGES" / "cabinet_billing.mo").open("rb") as mo:
        shipped = {m.id: m.string for m in read_mo(mo) if m.id}
    assert shipped == {m.id: m.string for m in catalog(language) if m.id}, "run `make messages`"


def test_the_template_holds_exactly_the_ids_the_sources_mark() -> None:
    found = extract_from_dir(
        str(SRC),
        method_map=[("**.py", "python")],
        keywords={"N_": None, "tr": None},
        comment_tags=(),
    )
    marked = {message for _file, _line, message, _comments, _context in found}
    assert marked == {m.id for m in template() if m.id}, "run `make messages`"


def test_the_compiled_catalogs_load_with_the_standard_gettext() -> None:
    path = LOCALE_DIR / "uk" / "LC_MESSAGES" / "cabinet_billing.mo"
    standard = gettext.GNUTranslations(io.BytesIO(path.read_bytes()))
    assert standard.gettext("status.invoice.overdue") == "Прострочено"
    assert translations("uk-UA").gettext("status.invoice.overdue") == "Прострочено"
    assert isinstance(translations("de"), gettext.GNUTranslations)


def test_a_catalog_compiles_to_what_is_shipped() -> None:
    buffer = io.BytesIO()
    write_mo(buffer, catalog("ru"))
    compiled = gettext.GNUTranslations(io.BytesIO(buffer.getvalue()))
    assert compiled.gettext("doc.act") == translations("ru").gettext("doc.act")


def test_translations_refuse_a_language_without_catalogs() -> None:
    with pytest.raises(ValidationError, match="messages exist in uk, ru, de, en only"):
        translations("fr")


def test_the_message_table_is_read_from_the_catalogs() -> None:
    assert len(MESSAGES) == len({m.id for m in template() if m.id})
    assert MESSAGES["status.invoice.paid"] == {
        "uk": "Сплачено",
        "ru": "Оплачен",
        "de": "Bezahlt",
        "en": "Paid",
    }
    assert "nope" not in MESSAGES
    with pytest.raises(TypeError):
        MESSAGES["credit.ok"]["en"] = "changed"  # type: ignore[index]


# ----------------------------------------------------------------------------- statuses


@pytest.mark.parametrize("kind", STATUS_ENUMS, ids=lambda k: k.__name__)
@pytest.mark.parametrize("language", SUPPORTED_LOCALES)
def test_every_status_has_a_name_in_every_language(kind: type[enum.Enum], language: str) -> None:
    names = [format_status(member, language) for member in kind]
    assert all(name and not name.startswith("status.") for name in names)


@pytest.mark.spec("L4", "L6", "C5", "R1")
@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (
            InvoiceStatus.PARTIALLY_PAID,
            ("Сплачено частково", "Оплачен частично", "Teilweise bezahlt", "Partially paid"),
        ),
        (PaymentStatus.CREDITED, ("Зараховано", "Зачислен", "Gutgeschrieben", "Credited")),
        (
            ServiceStatus.STOPPED_BY_ADMIN,
            (
                "Зупинено адміністратором",
                "Остановлена администратором",
                "Vom Administrator gestoppt",
                "Stopped by administrator",
            ),
        ),
        (CreditStatus.BLOCKED, ("Заблоковано", "Заблокирован", "Gesperrt", "Blocked")),
        (
            StatementStatus.FULLY_REPAID,
            ("Повністю погашено", "Полностью погашен", "Vollständig beglichen", "Fully repaid"),
        ),
    ],
)
def test_status_names(status: enum.Enum, expected: tuple[str, str, str, str]) -> None:
    assert tuple(format_status(status, lang) for lang in SUPPORTED_LOCALES) == expected


def test_a_value_that_is_not_a_known_status_is_refused() -> None:
    class Colour(enum.Enum):
        RED = "red"

    with pytest.raises(ValidationError) as err:
        format_status(Colour.RED, "en")
    assert err.value.field == "status"
    assert "expected a member of InvoiceStatus, PaymentStatus" in str(err.value)
    with pytest.raises(ValidationError):
        format_status("paid", "en")  # type: ignore[arg-type]


def test_an_unknown_message_id_names_the_ids_of_its_group() -> None:
    with pytest.raises(ValidationError) as err:
        translate("status.invoice.lost", "en")
    assert "status.invoice.unpaid" in str(err.value)
    assert "credit.ok" not in str(err.value)
    with pytest.raises(ValidationError) as other:
        translate("nothing", "en")
    assert "expected one of cli.…, credit.…, doc.…" in str(other.value)


# ----------------------------------------------------------------------------- notifications

T = datetime(2024, 3, 21, 9, tzinfo=UTC)
_SAMPLE_VALUES: dict[type, object] = {
    str: "x-1",
    bool: True,
    Money: Money("100.00", "RUB"),
    date: date(2024, 4, 1),
    datetime: T,
    tuple: ("s-1",),
}


def sample_event(kind: type[BillingEvent]) -> BillingEvent:
    hints = {f.name: f.type for f in attrs.fields(kind)}
    values: dict[str, Any] = {}
    for name, hint in hints.items():
        text = str(hint)
        chosen = next((v for t, v in _SAMPLE_VALUES.items() if text.startswith(t.__name__)), "x-1")
        values[name] = chosen
    values["account_id"] = "acc-1"
    values["at"] = T
    return kind(**values)


@pytest.mark.spec("R9")
@pytest.mark.parametrize("language", SUPPORTED_LOCALES)
def test_every_notification_the_use_cases_send_has_a_text(language: str) -> None:
    for kind in core._NOTIFY:
        notification = core.notification_of(sample_event(kind))
        assert notification is not None
        text = render_notification(notification, language)
        assert text
        assert "{" not in text


@pytest.mark.spec("R3")
@pytest.mark.parametrize("language", SUPPORTED_LOCALES)
def test_every_credit_notice_has_a_text(language: str) -> None:
    assert ASTRA_CLOUD.credit is not None
    for rule in ASTRA_CLOUD.credit.notices:
        n = Notification(
            "acc-1",
            NotificationCategory.FINANCE,
            f"credit.{rule.kind}",
            T,
            {"amount": "800.00 RUB", "due_on": "2024-01-15", "block_on": "2024-01-30"},
        )
        assert render_notification(n, language)


@pytest.mark.spec("R4", "R8")
@pytest.mark.parametrize(
    ("kind", "params", "language", "expected"),
    [
        (
            "renewal.failed",
            {"service_id": "8558", "amount": "250.00 RUB", "reason": "declined"},
            "ru",
            "Не удалось продлить услугу 8558 за 250,00 ₽: declined",
        ),
        (
            "balance.low",
            {"balance": "40.00 UAH", "threshold": "50.00 UAH"},
            "uk",
            "Ваш баланс 40,00 ₴ нижчий за поріг 50,00 ₴",
        ),
        (
            "service.paid",
            {"service_id": "3925", "paid_until": "2024-04-01"},
            "de",
            "Die Leistung 3925 ist bis zum 1. April 2024 bezahlt",
        ),
        (
            "credit.before_due",
            {"amount": "41.60 EUR", "due_on": "2024-08-15"},
            "en",
            "Reminder: the invoice for €41.60 for services bought on credit is due by August 15, 2024",
        ),
        (
            "payment.failed",
            {"payment_id": "pay-1", "reason": "card 1.5 XYZ declined"},
            "en",
            "Payment pay-1 failed: card 1.5 XYZ declined",
        ),
    ],
)
def test_notification_texts(
    kind: str, params: dict[str, str], language: str, expected: str
) -> None:
    n = Notification("acc-1", NotificationCategory.FINANCE, kind, T, params)
    assert plain(render_notification(n, language)) == expected


def test_a_notification_kind_without_a_text_is_refused_naming_those_with_one() -> None:
    n = Notification("acc-1", NotificationCategory.NEWS, "news.digest", T, {})
    with pytest.raises(ValidationError) as err:
        render_notification(n, "en")
    assert err.value.field == "kind"
    assert "balance.low" in str(err.value)
    assert "the credit notices" in str(err.value)


def test_a_notification_lacking_a_value_is_refused_naming_what_it_needs() -> None:
    n = Notification("acc-1", NotificationCategory.FINANCE, "balance.low", T, {"balance": "1 RUB"})
    with pytest.raises(ValidationError, match="needs balance, threshold"):
        render_notification(n, "en")


def test_message_values_in_the_locale_notation() -> None:
    template = translations("de").gettext("line.credit_statement")
    assert template == "Auf Kredit gekaufte Leistungen, {month:month_year}"
    # Decimals are shown in the locale's notation, other values as they are.
    text = render_message("notification.balance.low", "de", balance=Decimal("12.5"), threshold=3)
    assert text == "Ihr Guthaben beträgt 12,5 und liegt unter Ihrer Schwelle von 3"
