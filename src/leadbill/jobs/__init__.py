"""Scheduled jobs of the worker: the job table, its leases, and `leadbill worker status`."""
