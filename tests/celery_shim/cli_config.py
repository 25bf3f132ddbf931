"""A configuration module for ``celery-shim --config cli_config``."""

task_default_queue = "bulk"
