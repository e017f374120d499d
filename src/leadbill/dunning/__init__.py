"""Dunning: reminders of unpaid invoices on a schedule, and the final action after them."""
