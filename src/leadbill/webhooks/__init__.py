"""Webhooks: endpoints, a transactional outbox of events, signed delivery with retries."""
