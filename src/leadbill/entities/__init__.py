"""Billing entities: the operator as the issuer of invoices and credit notes."""
