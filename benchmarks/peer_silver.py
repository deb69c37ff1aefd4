# mypy: ignore-errors
"""django-silver's month of draft invoices, one monthly subscription per customer, on SQLite.

Run by ``make bench-peer`` with the Python of the ``.bench/`` virtual environment that has
django-silver installed (never with the project's): it configures Django in-process with a
SQLite file, migrates it, writes one provider, one monthly plan and ``--subscriptions``
customers each with an active subscription starting on a day spread over the month, then
times ``DocumentsGenerator().generate(billing_date=day)`` for every day of the next two
months (a daily cron), each month on its own: the first bills each subscription for the
first time, the second is a month like every later one. It prints one line per month:
``silver <subscriptions> <seconds> <invoices made that month>``.
"""

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path


def configure(database: Path) -> None:
    import django  # noqa: PLC0415 - the peer's own environment
    from django.conf import settings  # noqa: PLC0415

    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench",  # noqa: S106 - a throwaway benchmark database
        USE_TZ=True,
        TIME_ZONE="UTC",
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(database)}},
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django_fsm",
            "rest_framework",
            "django_filters",
            "silver",
        ],
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        PAYMENT_METHOD_SECRET=b"MOW_x1k-ayes3KqnFHNZUxvKipC8iLjxiczEN76TIEA=",
        PAYMENT_PROCESSORS={},
        SILVER_DEFAULT_DUE_DAYS=5,
        SILVER_AUTOMATICALLY_CREATE_TRANSACTIONS=False,
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {"context_processors": []},
            }
        ],
        LOGGING_CONFIG=None,
    )
    django.setup()


def populate(subscriptions: int, start: dt.date) -> None:
    from silver.models import Customer, Plan, ProductCode, Provider, Subscription  # noqa: PLC0415

    provider = Provider.objects.create(
        name="Provider",
        company="Provider Ltd",
        email="billing@example.com",
        address_1="Street 1",
        country="DE",
        city="Berlin",
        invoice_series="INV",
        invoice_starting_number=1,
        proforma_series="PRO",
        proforma_starting_number=1,
        default_document_state="draft",
        flow="invoice",
    )
    plan = Plan.objects.create(
        name="VPS",
        interval=Plan.INTERVALS.MONTH,
        interval_count=1,
        amount=Decimal("30.00"),
        currency="EUR",
        generate_after=0,
        enabled=True,
        private=False,
        product_code=ProductCode.objects.create(value="vps"),
        provider=provider,
    )
    for n in range(subscriptions):
        customer = Customer.objects.create(
            first_name="Customer",
            last_name=str(n),
            email=f"c{n}@example.com",
            address_1="Street 2",
            country="DE",
            city="Berlin",
            currency="EUR",
            sales_tax_percent=Decimal("0.00"),
            sales_tax_name="VAT",
            consolidated_billing=False,
            payment_due_days=5,
        )
        subscription = Subscription.objects.create(
            plan=plan,
            customer=customer,
            start_date=start + dt.timedelta(days=n % 28),
            reference=str(n),
        )
        subscription.activate()
        subscription.save()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=200)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        configure(Path(folder) / "silver.db")
        from django.core.management import call_command  # noqa: PLC0415

        call_command("migrate", verbosity=0)
        from silver.documents_generator import DocumentsGenerator  # noqa: PLC0415
        from silver.models import Invoice  # noqa: PLC0415

        start = dt.date(2024, 1, 1)
        populate(args.subscriptions, start)
        generator = DocumentsGenerator()
        made = 0
        for first, end in (
            (dt.date(2024, 2, 1), dt.date(2024, 3, 1)),
            (dt.date(2024, 3, 1), dt.date(2024, 4, 1)),
        ):
            began = time.perf_counter()
            day = first
            while day < end:
                generator.generate(billing_date=day)
                day += dt.timedelta(days=1)
            took = time.perf_counter() - began
            invoices = Invoice.objects.count()
            print(f"silver {args.subscriptions} {took:.6f} {invoices - made}", flush=True)
            made = invoices
    return 0


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    sys.exit(main())
