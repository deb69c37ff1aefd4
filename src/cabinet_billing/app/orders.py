"""The cabinet's orders: checking out a cart and placing an order (SPEC C1, C3, C4, L2).

The cabinet never trusts the amounts of an order it is given. :meth:`CabinetOrders.checkout`
prices the customer's cart itself; :meth:`CabinetOrders.place` takes an order checked out
elsewhere and prices every line again: the plan from the settings' catalog, the promo
code from the settings' codes, the tax of the account's country, the day of the call. A
line price changed after checkout is simply priced again; what cannot be priced is
refused with a typed error naming the value and what is allowed (another account's
order, a currency or payment method the settings do not offer, a plan the catalog does
not sell, a promo code it does not accept or that this customer already used).

>>> from datetime import date
>>> from cabinet_billing import Account, Money, Plan, ProductKind
>>> from cabinet_billing.adapters.memory import in_memory_billing
>>> from cabinet_billing.domain.cart import Cart
>>> setup = in_memory_billing()
>>> billing = setup.billing
>>> _ = billing.open_account(Account.open("acc-1", "alice"), owner_id="u-1", owner_name="Alice")
>>> cart = Cart("acc-1", "EUR")
>>> _ = cart.add(Plan("vps", "VPS", ProductKind.VPS, {"month": Money("30.00", "EUR")}), "month")
>>> order = cart.checkout("card", date(2024, 1, 1), order_id="ord-1",
...                       tax=billing.settings.tax, country="DE")
>>> result = billing.cabinet("acc-1", "u-1").orders.place(order)
>>> result.invoice.status.value, str(result.invoice.total.gross), result.paid_from_balance
('unpaid', '30.00 EUR', False)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

import attrs

from cabinet_billing.app import checks
from cabinet_billing.app.context import Context
from cabinet_billing.app.gate import Call, Gate
from cabinet_billing.app.results import OrderResult
from cabinet_billing.app.settings import BillingSettings
from cabinet_billing.domain.cart import Cart, CartItem, CartLine, CartSummary, FullPeriod, Order
from cabinet_billing.domain.catalog import Plan
from cabinet_billing.domain.customer import Account, payment_readiness
from cabinet_billing.domain.events import BillingEvent, InvoicePaid, OrderPlaced
from cabinet_billing.domain.invoice import Invoice, InvoiceKind, IssuedLine
from cabinet_billing.domain.money import Money, sum_money
from cabinet_billing.domain.outbox import OutboxMessage
from cabinet_billing.domain.payment import BALANCE_METHOD
from cabinet_billing.domain.periods import PeriodUnit, period_end
from cabinet_billing.domain.promo import PromoCode, find_code, redemption_key
from cabinet_billing.domain.service import (
    Actor,
    BillingMode,
    Service,
    ServiceAction,
    ServiceOperation,
)
from cabinet_billing.domain.text import LineText
from cabinet_billing.errors import ConflictError, InsufficientFundsError, OrderRejectedError
from cabinet_billing.rules.credit_limit import CreditAction

__all__ = ["BALANCE_METHOD", "CabinetOrders", "DailyOrder", "cancel_order_services"]


class CabinetOrders:
    """Checking out carts and placing orders (right ``services.order``)."""

    def __init__(self, context: Context, gate: Gate) -> None:
        self._ctx = context
        self._gate = gate

    def checkout(
        self,
        cart: Cart,
        payment_method_id: str,
        *,
        order_id: str,
        payer_id: str | None = None,
    ) -> OrderResult:
        """Price the cart for this account today, place it as an order, and empty the cart.

        The cart is priced as the provider sells: plans from the settings' catalog (when
        it has one), the promo code from the settings' codes, the settings' proration
        and rounding, and the tax of the account's country. The order is bound to
        ``payment_method_id``; paying another way needs a new order (SPEC C4).

        With a ``payer_id``, the invoice is made out to that payer of the account and its
        services are billed to it, renewals included (SPEC A4).

        Raises:
            AccessDeniedError: without the right ``services.order``.
            NotFoundError: for a payer the account does not have; the cart is unchanged.
            OrderRejectedError: for a cart of another account, or a currency, payment
                method or plan the settings do not offer; the cart is unchanged.
            PromoCodeError: for a code the settings do not accept, that is not valid
                today, or that this customer already used; the cart is unchanged.
            ConflictError: when an order with this id was placed already.
            DeletionPendingError: while the account's deletion is pending.
            InvalidArgumentError: for a ``cart`` that is not a :class:`Cart`.
        """
        checks.instance("cart", cart, Cart, "a Cart such as Cart(account_id, currency)")
        checks.identifier("payment_method_id", payment_method_id)
        checks.identifier("order_id", order_id)
        with self._gate.open("services.order") as call:
            summary = _price(
                self._ctx,
                call,
                customer_id=cart.customer_id,
                currency=cart.currency,
                method_id=payment_method_id,
                items=cart.items,
                promo=None if cart.promo is None else cart.promo.code,
                covered=None,
            )
            result, queued = self._place(call, order_id, payment_method_id, summary, payer_id)
        cart.clear()
        self._ctx.send(queued)
        return result

    def place(self, order: Order, *, payer_id: str | None = None) -> OrderResult:
        """Place an order checked out elsewhere, priced again from the catalog and the account.

        The order's amounts are not trusted: every line is priced again for today from
        its plan (the catalog's, when the settings have one), its period and add-ons, the
        order's promo code and the tax of the account's country. The days each line pays
        for must be what a full period from today or the settings' proration gives.
        An order checked out with the balance (``"balance"``) is paid from it at once
        when the balance covers it and the profile allows paying (SPEC L2); an order
        checked out for another method is never paid from the balance, it waits for that
        method (SPEC C4); an invoice of zero total (a 100% discount) is paid at once.

        With a ``payer_id``, the invoice is made out to that payer of the account and its
        services are billed to it, renewals included (SPEC A4).

        Raises:
            AccessDeniedError: without the right ``services.order``.
            NotFoundError: for a payer the account does not have.
            OrderRejectedError: for another account's order, a currency, payment method
                or plan the settings do not offer, or days no pricing rule gives.
            PromoCodeError: for a code the settings do not accept, that is not valid
                today, or that this customer already used.
            ConflictError: when the order was placed already.
            DeletionPendingError: while the account's deletion is pending
                (AccountDeletedError once it is confirmed).
        """
        checks.instance("order", order, Order, "an Order from Cart.checkout(...)")
        with self._gate.open("services.order") as call:
            summary = _price(
                self._ctx,
                call,
                customer_id=order.customer_id,
                currency=order.currency,
                method_id=order.payment_method_id,
                items=order.items,
                promo=order.promo_code,
                covered=[line.covered for line in order.lines],
            )
            result, queued = self._place(call, order.id, order.payment_method_id, summary, payer_id)
        self._ctx.send(queued)
        return result

    def checkout_daily(self, cart: Cart, *, order_id: str) -> DailyOrder:
        """Order the cart's items as daily-billed services (Astra Cloud's cloud servers).

        A daily-billed service is paid day by day from the balance by the billing run
        (the day's part of its period price, at accrual precision), so nothing is
        invoiced up front: each service is paid up to today and opens at once. The
        balance (and the credit line, when the account has one) must cover the first
        day. Promo codes discount orders paid up front and are refused here.

        Raises:
            AccessDeniedError: without the right ``services.order``.
            OrderRejectedError: as :meth:`checkout`, and for a cart with a promo code.
            ProfileIncompleteError: while the profile does not allow paying (SPEC A2).
            InsufficientFundsError: when the balance does not cover the first day.
            ConflictError: when an order with this id was placed already.
            DeletionPendingError: while the account's deletion is pending.
        """
        ctx = self._ctx
        if cart.promo is not None:
            raise OrderRejectedError(
                "promo_code",
                cart.promo.code,
                "a daily-billed service is charged day by day; promo codes discount orders "
                "paid up front",
            )
        with self._gate.open("services.order") as call:
            uow, now, today, account = call.uow, call.now, call.today, call.account
            summary = _price(
                ctx,
                call,
                customer_id=cart.customer_id,
                currency=cart.currency,
                method_id=BALANCE_METHOD,
                items=cart.items,
                promo=None,
                covered=None,
            )
            ctx.ensure_profile_may_pay(uow, account.id)
            key = f"order:{order_id}"
            if uow.keys.seen(key):
                raise ConflictError(f"order {order_id!r}", "was placed already")
            code = cart.currency
            first_day = sum_money(
                (
                    ctx.settings.rounding.accrual(line.then / _days(line, today))
                    for line in summary.lines
                ),
                code,
            )
            spendable = ctx.spendable(uow, account.id, code, with_credit=True)
            if spendable < first_day:
                raise InsufficientFundsError(first_day, spendable, first_day - spendable)
            uow.keys.record(key)
            service_ids: list[str] = []
            for line in summary.lines:
                service = _new_service(
                    service_id=ctx.next_id(uow, "service"),
                    account=account,
                    user_id=call.user.id,
                    line=line,
                    currency=code,
                    now=now,
                    billing_mode=BillingMode.DAILY,
                )
                service.mark_paid(today, Actor.system(), now, "billed daily from the balance")
                if ctx.settings.open_on_payment:
                    service.begin_processing(ServiceOperation.OPENING, Actor.system(), now)
                uow.services.add(service)
                service_ids.append(service.id)
            events: list[BillingEvent] = [
                OrderPlaced(
                    account_id=account.id,
                    at=now,
                    order_id=order_id,
                    invoice_id="",
                    service_ids=tuple(service_ids),
                ),
            ]
            queued = ctx.commit(uow, events)
        cart.clear()
        ctx.send(queued)
        return DailyOrder(service_ids=tuple(service_ids), first_day=first_day, events=tuple(events))

    def _place(
        self,
        call: Call,
        order_id: str,
        method_id: str,
        summary: CartSummary,
        payer_id: str | None = None,
    ) -> tuple[OrderResult, list[OutboxMessage]]:
        """Place a priced order and commit it; the result and the notices to send."""
        ctx = self._ctx
        uow, now, today, account = call.uow, call.now, call.today, call.account
        account_id = account.id
        key = f"order:{order_id}"
        if uow.keys.seen(key):
            raise ConflictError(f"order {order_id!r}", "was placed already")
        payers = uow.payers.get(account_id) if payer_id is not None else None
        if payers is not None and payer_id is not None:
            payers.get(payer_id)
        uow.keys.record(key)
        promo = _promo_of(ctx.settings, summary.promo_code)
        if promo is not None and promo.once_per_customer:
            uow.keys.record(redemption_key(promo.code, account_id))
        lines: list[IssuedLine] = []
        service_ids: list[str] = []
        for line in summary.lines:
            service = _new_service(
                service_id=ctx.next_id(uow, "service"),
                account=account,
                user_id=call.user.id,
                line=line,
                currency=summary.totals.gross.code,
                now=now,
            )
            uow.services.add(service)
            service_ids.append(service.id)
            if payers is not None:
                payers.bill_service(service.id, payer_id)
            text = LineText.of(
                "line.order",
                plan=line.item.plan.name,
                start=line.covered.start,
                end=line.covered.end,
            )
            lines.append(
                IssuedLine(
                    text.fallback,
                    line.tax,
                    line.rate,
                    service.id,
                    None,
                    line.covered.end,
                    text,
                ),
            )
        invoice = Invoice.from_lines(
            ctx.next_id(uow, "invoice"),
            ctx.invoice_number(uow, today, account_id),
            account_id,
            lines,
            issued_on=today,
            due_on=today + timedelta(days=ctx.settings.invoice_due_days),
            kind=InvoiceKind.ORDER,
            payment_method_id=method_id,
            free=True,
            payer_id=payer_id,
        )
        uow.invoices.add(invoice)
        events: list[BillingEvent] = [
            OrderPlaced(
                account_id=account_id,
                at=now,
                order_id=order_id,
                invoice_id=invoice.id,
                service_ids=tuple(service_ids),
            ),
            ctx.issued(invoice, now),
        ]
        paid = False
        code = invoice.currency
        if invoice.total.gross.amount == 0:
            # Nothing to pay (a 100% discount): paid at once, the services open.
            invoice.close_free(today)
            events.append(
                InvoicePaid(
                    account_id=account_id,
                    at=now,
                    invoice_id=invoice.id,
                    number=invoice.number,
                    amount=invoice.total.gross,
                    from_balance=False,
                ),
            )
            events += ctx.services_paid(uow, invoice, now)
        # Only an order checked out to be paid from the balance is paid from it (SPEC C4,
        # L2): one checked out for a card or another method waits for that method. It is
        # paid automatically from free money only; buying it on credit is the customer's
        # choice (invoices.pay), and a blocked line forbids both.
        elif (
            ctx.method_may_pay(invoice, None)
            and payment_readiness(account, ctx.settings.payment_requirements).ready
            and ctx.credit_allows(uow, account_id, code, CreditAction.PAY_FROM_BALANCE, today)
            and ctx.spendable(uow, account_id, code, with_credit=False, on=today)
            >= invoice.amount_due
        ):
            events += ctx.settle(uow, invoice, invoice.amount_due, now, from_balance=True, on=today)
            paid = True
        queued = ctx.commit(uow, events)
        result = OrderResult(
            invoice=invoice,
            service_ids=tuple(service_ids),
            paid_from_balance=paid,
            events=tuple(events),
        )
        return result, queued


@attrs.frozen(kw_only=True)
class DailyOrder:
    """Daily-billed services ordered: their ids, what their first day costs, the events."""

    service_ids: tuple[str, ...]
    first_day: Money
    events: tuple[BillingEvent, ...]


def _days(line: CartLine, today: date) -> int:
    """The days one period of the line's price is spread over (as the billing run does)."""
    period = line.item.period
    if period.unit is PeriodUnit.DAY:
        return period.count
    start = today.replace(day=1)
    return (period_end(start, period) - start).days


def cancel_order_services(call: Call, invoice: Invoice) -> list[str]:
    """Cancel the unpaid services of an order whose invoice was deleted.

    An order is bound to its payment method (SPEC C4), so deleting its invoice abandons
    the order: every service the invoice ordered that still awaits payment is cancelled
    (it moves to *deleted*, recorded in its history) instead of staying *ordered* with
    nothing to pay. Services the invoice renews, or that are paid, are left alone.

    Returns:
        The ids of the services cancelled.
    """
    if invoice.kind is not InvoiceKind.ORDER:
        return []
    cancelled: list[str] = []
    actor = Actor.client(call.user.id)
    for line in invoice.lines:
        if line.service_id is None:
            continue
        service = call.uow.services.get(line.service_id)
        if service.awaiting_payment and service.can(ServiceAction.CANCEL, actor.role):
            service.cancel(actor, call.now, f"invoice {invoice.number} deleted")
            cancelled.append(service.id)
    return cancelled


def _price(
    ctx: Context,
    call: Call,
    *,
    customer_id: str,
    currency: str,
    method_id: str,
    items: Sequence[CartItem],
    promo: str | None,
    covered: Sequence[object] | None,
) -> CartSummary:
    """Price an order's items as the provider sells them, or refuse what cannot be."""
    settings = ctx.settings
    account = call.account
    call.account.ensure_not_closing("place orders")
    if customer_id != account.id:
        raise OrderRejectedError(
            "customer_id",
            customer_id,
            f"this cabinet places orders of account {account.id!r} only",
        )
    if settings.currencies and currency not in settings.currencies:
        raise OrderRejectedError(
            "currency",
            currency,
            f"the settings take orders in {', '.join(settings.currencies)}",
        )
    _check_method(settings, method_id, currency)
    cart = Cart(
        account.id,
        currency,
        items=[
            CartItem(item.id, _plan(settings, item.plan), item.period, dict(item.quantities))
            for item in items
        ],
    )
    if promo is not None:
        code = find_code(settings.promo_codes, promo)
        cart.apply_promo(
            code,
            call.today,
            already_used=call.uow.keys.seen(redemption_key(code.code, account.id)),
        )
    country = account.profile.country or ""
    rules = (settings.proration, FullPeriod(settings.rounding))
    if covered is None:
        return cart.price(
            call.today,
            tax=settings.tax,
            country=country,
            proration=rules[0],
            rounding=settings.rounding,
        )
    summaries = [
        cart.price(
            call.today,
            tax=settings.tax,
            country=country,
            proration=rule,
            rounding=settings.rounding,
        )
        for rule in rules
    ]
    for summary in summaries:
        if [line.covered for line in summary.lines] == list(covered):
            return summary
    given = ", ".join(str(days) for days in covered)
    offered = " or ".join(
        dict.fromkeys(
            ", ".join(str(line.covered) for line in summary.lines) for summary in summaries
        )
    )
    raise OrderRejectedError(
        "covered",
        given,
        f"ordered on {call.today.isoformat()} the order pays for {offered}; "
        "check the cart out again",
    )


def _check_method(settings: BillingSettings, method_id: str, currency: str) -> None:
    """Refuse a payment method the settings do not offer in the order's currency."""
    if not settings.payment_methods or method_id == BALANCE_METHOD:
        return
    offered = [m.id for m in settings.payment_methods if m.currency == currency]
    if method_id not in offered:
        raise OrderRejectedError(
            "payment_method_id",
            method_id,
            f"the methods offered in {currency} are {', '.join([*offered, BALANCE_METHOD])}",
        )


def _plan(settings: BillingSettings, plan: Plan) -> Plan:
    """The plan as the catalog sells it (the order's own plan without a catalog)."""
    catalog = settings.catalog
    if catalog is None:
        return plan
    if plan.id not in catalog:
        sold = ", ".join(p.id for p in catalog.plans()) or "none"
        raise OrderRejectedError("plan", plan.id, f"the catalog sells the plans {sold}")
    return catalog.plan(plan.id)


def _promo_of(settings: BillingSettings, code: str | None) -> PromoCode | None:
    return None if code is None else find_code(settings.promo_codes, code)


def _new_service(
    *,
    service_id: str,
    account: Account,
    user_id: str,
    line: CartLine,
    currency: str,
    now: datetime,
    billing_mode: BillingMode = BillingMode.PERIODIC,
) -> Service:
    item = line.item
    quantities = dict(item.quantities)
    return Service.order(
        id=service_id,
        account_id=account.id,
        plan_id=item.plan.id,
        plan_name=item.plan.name,
        kind=item.plan.kind,
        price=line.then,
        period=item.period,
        created_at=now,
        actor=Actor.client(user_id),
        auto_renew=account.settings.auto_renew_default,
        # Every period of the cycle ends at anchor + n * period (SPEC C2).
        anchor=line.anchor,
        billing_mode=billing_mode,
        configuration={ln.code: ln.quantity for ln in line.quote.lines[1:]},
        limits=item.plan.new_limits(),
        # Every period the plan sells, so that a renewal for another period is priced
        # from the plan (SPEC X1).
        prices=item.plan.price_list(currency, quantities),
    )
