"""The cabinet's orders: placing a checked-out cart (SPEC C4, L2).

>>> from datetime import date
>>> from cabinet_billing import Account, Money, Plan, ProductKind
>>> from cabinet_billing.adapters.memory import in_memory_billing
>>> from cabinet_billing.domain.cart import Cart
>>> setup = in_memory_billing()
>>> billing = setup.billing
>>> _ = billing.open_account(Account.open("acc-1", "alice"), owner_id="u-1", owner_name="Alice")
>>> cart = Cart("cart-1", "EUR")
>>> _ = cart.add(Plan("vps", "VPS", ProductKind.VPS, {"month": Money("30.00", "EUR")}), "month")
>>> order = cart.checkout("card", date(2024, 1, 1), order_id="ord-1",
...                       tax=billing.settings.tax, country="DE")
>>> result = billing.cabinet("acc-1", "u-1").orders.place(order)
>>> result.invoice.status.value, result.paid_from_balance
('unpaid', False)
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cabinet_billing.app.context import Context
from cabinet_billing.app.gate import Gate
from cabinet_billing.app.results import OrderResult
from cabinet_billing.domain.cart import CartItem, Order, OrderLine
from cabinet_billing.domain.customer import Account, payment_readiness
from cabinet_billing.domain.events import BillingEvent, OrderPlaced
from cabinet_billing.domain.invoice import Invoice, InvoiceKind, IssuedLine
from cabinet_billing.domain.service import Actor, Service
from cabinet_billing.domain.text import LineText
from cabinet_billing.errors import ConflictError
from cabinet_billing.rules.credit_limit import CreditAction

__all__ = ["CabinetOrders"]


class CabinetOrders:
    """Placing orders (right ``services.order``)."""

    def __init__(self, context: Context, gate: Gate) -> None:
        self._ctx = context
        self._gate = gate

    def place(self, order: Order) -> OrderResult:
        """Turn a checked-out cart into services awaiting payment and an invoice.

        When the balance covers the invoice (and the profile allows paying), it is paid
        from the balance at once (SPEC L2); otherwise it waits for a payment.

        Raises:
            AccessDeniedError: without the right ``services.order``.
            ConflictError: when the order was placed already.
            DeletionPendingError: while the account's deletion is pending
                (AccountDeletedError once it is confirmed).
        """
        ctx = self._ctx
        with self._gate.open("services.order") as call:
            call.account.ensure_not_closing("place orders")
            uow, now, today, account = call.uow, call.now, call.today, call.account
            account_id = account.id
            key = f"order:{order.id}"
            if uow.keys.seen(key):
                raise ConflictError(f"order {order.id!r}", "was placed already")
            uow.keys.record(key)
            items = {item.id: item for item in order.items}
            lines: list[IssuedLine] = []
            service_ids: list[str] = []
            for line in order.lines:
                service = _new_service(
                    service_id=ctx.next_id(uow, "service"),
                    account=account,
                    user_id=call.user.id,
                    line=line,
                    item=items[line.item_id],
                    currency=order.currency,
                    now=now,
                )
                uow.services.add(service)
                service_ids.append(service.id)
                text = LineText.of(
                    "line.order",
                    plan=line.plan_name,
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
                payment_method_id=order.payment_method_id,
            )
            uow.invoices.add(invoice)
            events: list[BillingEvent] = [
                OrderPlaced(
                    account_id=account_id,
                    at=now,
                    order_id=order.id,
                    invoice_id=invoice.id,
                    service_ids=tuple(service_ids),
                ),
                ctx.issued(invoice, now),
            ]
            paid = False
            code = invoice.currency
            # An order is paid automatically from free money only; buying it on credit is
            # the customer's choice (invoices.pay), and a blocked line forbids both.
            if (
                payment_readiness(account, ctx.settings.payment_requirements).ready
                and ctx.credit_allows(uow, account_id, code, CreditAction.PAY_FROM_BALANCE, today)
                and ctx.spendable(uow, account_id, code, with_credit=False) >= invoice.amount_due
            ):
                events += ctx.settle(uow, invoice, invoice.amount_due, now, from_balance=True)
                paid = True
            uow.commit()
        ctx.notify(events)
        return OrderResult(
            invoice=invoice,
            service_ids=tuple(service_ids),
            paid_from_balance=paid,
            events=tuple(events),
        )


def _new_service(
    *,
    service_id: str,
    account: Account,
    user_id: str,
    line: OrderLine,
    item: CartItem,
    currency: str,
    now: datetime,
) -> Service:
    return Service.order(
        id=service_id,
        account_id=account.id,
        plan_id=line.plan_id,
        plan_name=line.plan_name,
        kind=item.plan.kind,
        price=line.then,
        period=line.period,
        created_at=now,
        actor=Actor.client(user_id),
        auto_renew=account.settings.auto_renew_default,
        # Every period the plan sells, so that a renewal for another period is priced
        # from the plan (SPEC X1).
        prices=item.plan.price_list(currency, dict(line.quantities)),
    )
