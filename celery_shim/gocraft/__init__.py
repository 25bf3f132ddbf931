"""What Celery has no name for: a Celery call mapped onto gocraft/work's Redis layout (keys, Lua, argument
binding, the option table, finding a job and its state, cron text, and importing a Celery broker's backlog)."""
