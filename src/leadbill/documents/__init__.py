"""Invoices and credit notes as the documents a customer receives: their data, PDF, e-invoice."""
