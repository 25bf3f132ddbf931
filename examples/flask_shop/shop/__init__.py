"""A small Flask shop whose background work runs on Celery's API.

The only line that differs from a stock Celery project is the import in ``shop/celery_app.py``
(``from celery_shim import Celery`` instead of ``from celery import Celery``) and in
``shop/tasks.py``.
"""

from __future__ import annotations

from flask import Flask


def create_app() -> Flask:
    """The Flask application factory, as Flask projects write it."""
    app = Flask(__name__)
    from .views import bp

    app.register_blueprint(bp)
    return app
