"""An unmodified Celery project's web process: it imports the real package name."""

import sys

from celery import Celery, shared_task

app = Celery("webapp")


@shared_task(name="webapp.greet")
def greet(name):
    return f"hello {name}"


if __name__ == "__main__":
    result = greet.delay(sys.argv[1])
    print(f"{type(app).__module__} {result.id}")
    sys.exit(3 if len(sys.argv) > 2 else 0)
