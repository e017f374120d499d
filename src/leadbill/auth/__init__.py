"""API keys, roles and the replay of idempotent requests."""
