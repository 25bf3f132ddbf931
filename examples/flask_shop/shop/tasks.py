"""The shop's background tasks: retries, autoretry with backoff, progress, a chain, beat jobs,
and a job that a Go service implements."""

from __future__ import annotations

import logging
import random

from celery_shim import chain, shared_task  # was: from celery import chain, shared_task
from celery_shim.utils.log import get_task_logger  # was: from celery.utils.log import get_task_logger

from .celery_app import celery

logger = get_task_logger(__name__)
PAYMENT_FAILURES: dict[str, int] = {}  # order -> failures still to simulate (demo only)


class PaymentGatewayDown(ConnectionError):
    """The card processor did not answer."""


@celery.task(bind=True, max_retries=5, default_retry_delay=1)
def charge_card(self, order_id: str, cents: int) -> dict:
    """Charge an order; the gateway is flaky, so retry with a short countdown."""
    left = PAYMENT_FAILURES.get(order_id, 0)
    if left:
        PAYMENT_FAILURES[order_id] = left - 1
        raise self.retry(exc=PaymentGatewayDown(f"gateway timeout for {order_id}"), countdown=1)
    logger.info("charged %s cents for order %s (attempt %d)", cents, order_id, self.request.retries + 1)
    return {"order_id": order_id, "charged": cents, "attempts": self.request.retries + 1}


@shared_task(autoretry_for=(ConnectionError,), retry_backoff=1, retry_backoff_max=4, retry_jitter=False, max_retries=3)
def send_receipt(email: str, order_id: str) -> str:
    """Email a receipt; a mail server hiccup is retried with exponential backoff."""
    if email.endswith("@flaky.example"):
        raise ConnectionError("SMTP server closed the connection")
    return f"receipt for {order_id} sent to {email}"


@shared_task
def price_order(items: list[dict]) -> int:
    """The order total in cents (first step of the invoice chain)."""
    return sum(int(item["cents"]) * int(item.get("qty", 1)) for item in items)


@shared_task
def apply_tax(total: int, rate: float = 0.2) -> int:
    """Add VAT to a total (second step)."""
    return round(total * (1 + rate))


@shared_task
def render_invoice(total: int, order_id: str) -> str:
    """The invoice text (last step)."""
    return f"INVOICE {order_id}: {total / 100:.2f} EUR"


def invoice_pipeline(order_id: str, items: list[dict]):
    """price -> tax -> invoice, each step a task, each result fed to the next."""
    return chain(price_order.s(items), apply_tax.s(), render_invoice.s(order_id=order_id))


@shared_task(bind=True)
def export_catalogue(self, products: int) -> dict:
    """A long export that reports its progress (custom PROGRESS state)."""
    for done in range(0, products + 1, max(1, products // 4)):
        self.update_state(state="PROGRESS", meta={"done": done, "total": products})
    return {"exported": products}


@shared_task
def resize_image(path: str, width: int) -> str:
    """Routed to the "images" queue (task_routes), so a dedicated worker can take it."""
    return f"{path} resized to {width}px"


@shared_task
def purge_abandoned_carts() -> int:
    """Beat job every 30 s."""
    return random.randint(0, 3)


@shared_task
def sales_report(period: str) -> str:
    """Beat job at 02:30 shop time."""
    return f"sales report for the last {period}"


@celery.task(name="send_sms", queue="sms")
def send_sms(phone: str, text: str) -> None:
    """Implemented by the Go notification service (examples/go_worker); this stub only names the
    parameters, so ``send_sms.delay("+33...", "hi")`` writes {"phone": ..., "text": ...} for Go.
    Its queue, "sms", is one the Python worker is not started on (``-Q default,images``)."""
    raise NotImplementedError("send_sms runs in the Go service")


logging.getLogger(__name__).debug("shop tasks loaded")
