from celery_shim import shared_task  # was: from celery import shared_task

from .models import Order


@shared_task
def ship(order_id):
    order = Order.objects.get(pk=order_id)  # fails if the order's transaction had not committed
    order.shipped = True
    order.save()
    return {"order": order.pk, "customer": order.customer}
