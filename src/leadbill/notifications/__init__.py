"""Notifications: the review decisions, usage alerts and receipts e-mailed to customers."""
