"""Domain notices to an organisation's people: the one outbox drain into the inbox and webhooks."""
