"""Example Python jobs for the docker-compose stack: ``jobs`` (the pool the worker runs) and
``enqueue_demo`` (a one-shot that fills the namespace with a mix of jobs for the dashboard)."""
