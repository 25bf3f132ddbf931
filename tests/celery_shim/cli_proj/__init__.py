"""A small Celery-style project for the celery-shim command-line tests: ``-A cli_proj`` finds the
app in ``cli_proj/celery.py``, as Celery's own lookup does for a package."""
