"""HTTP endpoints that start background work and report on it."""

from __future__ import annotations

import uuid

from flask import Blueprint, jsonify, request

from celery_shim.result import AsyncResult  # was: from celery.result import AsyncResult

from . import tasks
from .celery_app import celery

bp = Blueprint("shop", __name__)


@bp.post("/orders")
def create_order():
    """Place an order: charge the card, email the receipt, build the invoice, text the customer."""
    body = request.get_json(force=True)
    order_id = body.get("order_id") or uuid.uuid4().hex[:8]
    charge = tasks.charge_card.delay(order_id, int(body["cents"]))
    receipt = tasks.send_receipt.apply_async(args=(body["email"], order_id), countdown=1)
    invoice = tasks.invoice_pipeline(order_id, body["items"]).apply_async()
    sms = tasks.send_sms.delay(body.get("phone", "+33600000000"), f"order {order_id} confirmed")
    return jsonify(
        order_id=order_id, charge=charge.id, receipt=receipt.id, invoice=invoice.id, sms=sms.id
    ), 202


@bp.get("/tasks/<task_id>")
def task_status(task_id: str):
    """What a front end polls: the state, and the result once ready."""
    result = AsyncResult(task_id, app=celery)
    payload = {"id": task_id, "state": result.state}
    if result.ready():
        payload["result"] = result.result if result.successful() else str(result.result)
    elif result.state == "PROGRESS":
        payload["progress"] = result.info
    return jsonify(payload)
