"""Maintenance services of the queue engine, one per file: each a small loop with its
own interval (and batch size), started and stopped by the app's lifespan."""
