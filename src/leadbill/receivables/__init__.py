"""Receivables: what customers owe, by age, and invoices written off as uncollectible."""
