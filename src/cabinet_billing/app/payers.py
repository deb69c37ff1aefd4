"""The cabinet's payers: the legal parties of its payments (SPEC A4).

Astra Cloud ("Client — Payers"): an account keeps several payers; the customer adds,
edits, deletes and merges them, chooses one when topping up, ordering or renewing, and
prints a reconciliation statement per payer. Every call needs the right
``payers.manage`` (a payer's requisites include passport data), the statement
``documents.view``.

The rules, and why:

- **Requisites are checked on the way in.** :meth:`CabinetPayers.add` and
  :meth:`CabinetPayers.update` run the country's checks of
  ``BillingSettings.requisites`` (by default the shipped Ukrainian and Russian rules:
  EDRPOU, RNOKPP, INN, KPP, OGRN, IBAN, Russian bank keys); a host passes its own
  registry to replace them for one call.
- **Requisites are frozen while the e-document exchange is on** (Horoshop: switch the
  exchange off, edit, switch it on again).
- **A payer that has documents keeps its identity.** Once a payer has an act, a contract
  or an expense, its kind, country and tax ids cannot change: those documents are made
  out to that legal party. Its name, contacts, addresses, bank and signatory can still
  be corrected (Astra Cloud prints documents from the payer's current details). A
  different legal party is a new payer.
- **A payer that has paid or been billed is not deleted.** A payer with a payment, a
  contract, an act or an expense is kept for the record; merge it into another payer
  instead. Deleting a payer that has none of these releases its open invoices and the
  services billed to it (they are billed to nobody).
- **Merging** (Astra Cloud "Tools — Merge payers") removes the joined payer. Its
  services, its open invoices, its payments still in progress and its expenses that are
  in no act are billed to the main payer from then on. With ``move_contracts`` its
  contracts are made out to the main payer; without it they are terminated (Astra Cloud
  deletes them; the library keeps them terminated, because a contract that money was
  paid under stays part of the record). :meth:`CabinetPayers.preview_merge` shows all
  of this and changes nothing. A joined payer whose unpaid expenses are already in an act
  cannot be merged away (the lock below would be lost): pay them first.
- **The payer lock** (Astra Cloud): while a payer has unpaid expenses in an act, no other
  payer can be chosen for a payment (``payments.top_up`` and ``invoices.pay`` refuse with
  :class:`~cabinet_billing.errors.PayerNotReplaceableError`); an edit that changes who the
  payer is and a deletion are refused as above.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, date

import attrs

from cabinet_billing.app import checks
from cabinet_billing.app.context import Context
from cabinet_billing.app.gate import Call, Gate
from cabinet_billing.domain.documents import (
    ContractStatus,
    ReconciliationStatement,
    build_reconciliation,
    ensure_payer_replaceable,
)
from cabinet_billing.domain.ledger import EntryKind, LedgerEntry
from cabinet_billing.domain.payer import Payer
from cabinet_billing.domain.payment import PaymentStatus
from cabinet_billing.errors import ConflictError, ValidationError
from cabinet_billing.rules.requisites import RequisitesRegistry

__all__ = ["CabinetPayers", "PayerMerge"]

_RIGHT = "payers.manage"

#: Payments whose outcome is still to come: they follow their payer when it is merged.
_IN_PROGRESS = frozenset({PaymentStatus.NEW, PaymentStatus.PAYING})

#: The ledger entries a payment makes: what it brought in, its cashback, its refunds.
_PAYMENT_ENTRIES = frozenset({EntryKind.TOP_UP, EntryKind.CASHBACK, EntryKind.REFUND})


@attrs.frozen(kw_only=True)
class PayerMerge:
    """What merging one payer into another does (a preview) or did.

    Attributes:
        main: the payer that remains, as it is after the merge.
        joined_id: the payer merged into it, which no longer exists after the merge.
        move_contracts: whether the joined payer's contracts move to the main payer.
        moved_contracts: the contracts made out to the main payer.
        terminated_contracts: the joined payer's contracts in force that are terminated.
        services: the services billed to the main payer from now on.
        invoices: the open invoices made out to the main payer.
        payments: the payments in progress made by the main payer.
        expenses: the expenses (in no act yet) billed to the main payer.
        applied: whether the merge was made (``False`` for a preview).
    """

    main: Payer
    joined_id: str
    move_contracts: bool
    moved_contracts: tuple[str, ...]
    terminated_contracts: tuple[str, ...]
    services: tuple[str, ...]
    invoices: tuple[str, ...]
    payments: tuple[str, ...]
    expenses: tuple[str, ...]
    applied: bool


def _flag(field: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(field, value, "expected True or False")
    return value


class CabinetPayers:
    """The account's payers (right ``payers.manage``)."""

    def __init__(self, context: Context, gate: Gate) -> None:
        self._ctx = context
        self._gate = gate

    def _validator(self, registry: RequisitesRegistry | None) -> Callable[[Payer], object]:
        chosen = registry if registry is not None else self._ctx.settings.requisites
        if not isinstance(chosen, RequisitesRegistry):
            raise ValidationError("registry", registry, "expected a RequisitesRegistry or None")
        return chosen.validate

    def list(self) -> tuple[Payer, ...]:
        """The account's payers, in the order they were added.

        Raises:
            AccessDeniedError: without the right ``payers.manage``.
        """
        with self._gate.open(_RIGHT) as call:
            return tuple(call.uow.payers.get(call.account.id))

    def add(self, payer: Payer, *, registry: RequisitesRegistry | None = None) -> Payer:
        """Add a payer after its country's rules accept its requisites (SPEC A4).

        Args:
            payer: the payer.
            registry: the country rules to check it with (default: the settings').

        Raises:
            AccessDeniedError: without the right ``payers.manage``.
            ValidationError: when a requisite fails its country's check; nothing is added.
            ConflictError: when the id is taken.
            InvalidArgumentError: for a ``payer`` that is not a :class:`Payer`.
        """
        checks.instance("payer", payer, Payer, "a Payer(id, kind, country, name, ...)")
        validate = self._validator(registry)
        with self._gate.open(_RIGHT) as call:
            book = call.uow.payers.get(call.account.id)
            book.add(payer, validate)
            call.uow.commit()
        return payer

    def update(self, payer: Payer, *, registry: RequisitesRegistry | None = None) -> Payer:
        """Change a payer's details; refused while the e-document exchange is on.

        A payer that has an act, a contract or an expense keeps its kind, country and
        tax ids (see the module's rules).

        Raises:
            AccessDeniedError: without the right ``payers.manage``.
            ConflictError: while the account's e-document exchange is on, or for a change
                of who a payer with documents is (naming the fields and documents).
            ValidationError: when a requisite fails its country's check.
            NotFoundError: for an unknown payer.
        """
        checks.instance("payer", payer, Payer, "a Payer(id, kind, country, name, ...)")
        validate = self._validator(registry)
        with self._gate.open(_RIGHT) as call:
            uow = call.uow
            exchange = uow.documents.get(call.account.id).exchange
            if exchange is not None:
                exchange.ensure_requisites_editable()
            book = uow.payers.get(call.account.id)
            changes = book.get(payer.id).identity_changes(payer)
            records = _records(call, payer.id, payments=False) if changes else ()
            if records:
                raise ConflictError(
                    f"payer {payer.id!r}",
                    f"its {', '.join(changes)} cannot change: {', '.join(records)} "
                    "are made out to it; add a new payer for another legal party",
                )
            book.update(payer, validate)
            uow.commit()
        return payer

    def delete(self, payer_id: str) -> Payer:
        """Delete a payer that has never paid nor been billed.

        Its open invoices and the services billed to it are billed to nobody from then on.

        Returns:
            The deleted payer.

        Raises:
            AccessDeniedError: without the right ``payers.manage``.
            ConflictError: for a payer with a payment, contract, act or expense (merge it
                into another payer instead), naming them; nothing changes.
            NotFoundError: for an unknown payer.
        """
        with self._gate.open(_RIGHT) as call:
            uow = call.uow
            book = uow.payers.get(call.account.id)
            book.get(payer_id)
            records = _records(call, payer_id, payments=True)
            if records:
                raise ConflictError(
                    f"payer {payer_id!r}",
                    f"is kept for the record: {', '.join(records)}; merge it into another "
                    "payer instead",
                )
            for invoice in uow.invoices.for_account(call.account.id):
                if invoice.is_open() and invoice.payer_id == payer_id:
                    invoice.payer_id = None
            payer = book.remove(payer_id)
            uow.commit()
        return payer

    def preview_merge(
        self, main_id: str, joined_id: str, *, move_contracts: bool = False
    ) -> PayerMerge:
        """What :meth:`merge` would do, changing nothing (Astra Cloud's review step).

        Raises:
            AccessDeniedError: without the right ``payers.manage``.
            ConflictError: when both ids are the same.
            PayerNotReplaceableError: while the joined payer has unpaid expenses in an act.
            NotFoundError: for an unknown payer.
        """
        move = _flag("move_contracts", move_contracts)
        with self._gate.open(_RIGHT) as call:
            return _merge(call, main_id, joined_id, move_contracts=move, apply=False)

    def merge(self, main_id: str, joined_id: str, *, move_contracts: bool = False) -> PayerMerge:
        """Merge the payer ``joined_id`` into ``main_id``; the joined payer ceases to exist.

        See the module's rules for what moves; :meth:`preview_merge` shows it first.

        Raises:
            AccessDeniedError: without the right ``payers.manage``.
            ConflictError: when both ids are the same; nothing changes.
            PayerNotReplaceableError: while the joined payer has unpaid expenses in an
                act; nothing changes.
            NotFoundError: for an unknown payer.
        """
        move = _flag("move_contracts", move_contracts)
        with self._gate.open(_RIGHT) as call:
            result = _merge(call, main_id, joined_id, move_contracts=move, apply=True)
            call.uow.commit()
        return result

    def reconciliation(
        self, payer_id: str, currency: str, start: date, end: date
    ) -> ReconciliationStatement:
        """A payer's reconciliation statement for the days [start, end) (Astra Cloud).

        Its credits are what the payer's payments brought in (with their cashback, less
        refunds) and its debits what was charged to the invoices made out to it; the
        opening balance is the same sum before ``start``.

        Raises:
            AccessDeniedError: without the right ``documents.view``.
            NotFoundError: for an unknown payer.
            ValidationError: when ``end`` is not after ``start``.
            InvalidArgumentError: for a day or currency of the wrong kind.
            UnknownCurrencyError: for a code that is not an ISO 4217 currency.
        """
        code = checks.currency("currency", currency)
        first, after = checks.billing_day("start", start), checks.billing_day("end", end)
        with self._gate.open("documents.view") as call:
            uow = call.uow
            account_id = call.account.id
            uow.payers.get(account_id).get(payer_id)
            payments = {
                p.id for p in uow.payments.for_account(account_id) if p.payer_id == payer_id
            }
            invoices = {
                i.id for i in uow.invoices.for_account(account_id) if i.payer_id == payer_id
            }
            entries = [
                e for e in uow.ledgers.get(account_id).entries() if _belongs(e, payments, invoices)
            ]
            return build_reconciliation(
                entries,
                account_id=account_id,
                currency=code,
                start=first,
                end=after,
                payer_id=payer_id,
                tz=call.now.tzinfo or UTC,
            )


def _belongs(entry: LedgerEntry, payments: set[str], invoices: set[str]) -> bool:
    """Whether a ledger entry is one of a payer's money movements."""
    ref = entry.ref
    if ref is None:
        return False
    if entry.kind is EntryKind.CHARGE:
        return ref in invoices
    if entry.kind in _PAYMENT_ENTRIES:
        return ref in payments or ref.removesuffix("-cashback") in payments
    return False


def _records(call: Call, payer_id: str, *, payments: bool) -> tuple[str, ...]:
    """What is made out to a payer: its contracts, acts, expenses (and payments)."""
    uow = call.uow
    account_id = call.account.id
    documents = uow.documents.get(account_id)
    found = [f"contract {c.number}" for c in documents.contracts if c.payer_id == payer_id]
    found += [f"act {a.number}" for a in documents.acts if a.payer_id == payer_id]
    expenses = [e.id for e in uow.expenses.get(account_id).expenses() if e.payer_id == payer_id]
    if expenses:
        found.append(f"expense(s) {', '.join(expenses)}")
    if payments:
        paid = [p.id for p in uow.payments.for_account(account_id) if p.payer_id == payer_id]
        if paid:
            found.append(f"payment(s) {', '.join(paid)}")
    return tuple(found)


def _merge(
    call: Call, main_id: str, joined_id: str, *, move_contracts: bool, apply: bool
) -> PayerMerge:
    """Plan a merge, and make it when ``apply``; the book is left untouched otherwise."""
    uow = call.uow
    account_id = call.account.id
    book = uow.payers.get(account_id)
    if main_id == joined_id:
        raise ConflictError(f"payer {main_id!r}", "cannot be merged into itself")
    main = book.get(main_id)
    book.get(joined_id)
    expenses_book = uow.expenses.get(account_id)
    ensure_payer_replaceable(expenses_book.unpaid(), joined_id)
    documents = uow.documents.get(account_id)
    contracts = [c for c in documents.contracts if c.payer_id == joined_id]
    active = tuple(c.number for c in contracts if c.status is ContractStatus.ACTIVE)
    moved = tuple(c.number for c in contracts) if move_contracts else ()
    invoices = [
        i for i in uow.invoices.for_account(account_id) if i.is_open() and i.payer_id == joined_id
    ]
    payments = [
        p
        for p in uow.payments.for_account(account_id)
        if p.payer_id == joined_id and p.status in _IN_PROGRESS
    ]
    expense_ids = tuple(
        e.id for e in expenses_book.expenses() if e.payer_id == joined_id and e.act_id is None
    )
    services = book.services_of(joined_id)
    if apply:
        result = book.merge(main_id, joined_id, move_contracts=move_contracts)
        main = result.main
        for number in moved:
            documents.reassign_contract(number, main_id)
        if not move_contracts:
            for number in active:
                documents.terminate_contract(number, call.today)
        for invoice in invoices:
            invoice.payer_id = main_id
        for payment in payments:
            payment.payer_id = main_id
        expenses_book.rebill(joined_id, main_id)
    else:
        # The main payer as the merge would leave it, from a copy of the book.
        main = copy.deepcopy(book).merge(main_id, joined_id, move_contracts=move_contracts).main
    return PayerMerge(
        main=main,
        joined_id=joined_id,
        move_contracts=move_contracts,
        moved_contracts=moved,
        terminated_contracts=() if move_contracts else active,
        services=services,
        invoices=tuple(i.id for i in invoices),
        payments=tuple(p.id for p in payments),
        expenses=expense_ids,
        applied=apply,
    )
