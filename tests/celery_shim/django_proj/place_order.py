"""What a Django view does: create an order and ship it once the transaction commits."""

import json
import os
import sys

import django
import redis

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djproj.settings")
django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402

from djproj.celery import app  # noqa: E402
from orders.models import Order  # noqa: E402
from orders.tasks import ship  # noqa: E402
from work_compat import Keys  # noqa: E402

call_command("migrate", run_syncdb=True, verbosity=0)
r = redis.Redis.from_url(os.environ["DJPROJ_REDIS"])
queue = Keys(os.environ["DJPROJ_NAMESPACE"]).jobs(ship.name)
with transaction.atomic():
    order = Order.objects.create(customer="ada")
    ship.delay_on_commit(order.pk)
    inside = r.llen(queue)
after = r.llen(queue)
print(json.dumps({"order": order.pk, "queued_inside": inside, "queued_after": after,
                  "task_class": type(ship).__mro__[1].__name__, "task": ship.name,
                  "namespace": app.namespace}))
sys.exit(0)
