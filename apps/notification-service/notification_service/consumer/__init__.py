"""Feed events in, work out: the feed consumer (routing and the outbox) and the SNS relay."""
