"""Request handlers: ``base`` (shared plumbing), ``api`` (the JSON API)."""
