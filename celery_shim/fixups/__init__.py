"""Adjustments for frameworks an app runs inside, made when the app is built (as Celery's fixups)."""
