"""Outbox rows out: the dispatcher, the webhook and email senders, signing, the SSRF guard."""
