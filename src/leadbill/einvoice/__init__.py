"""E-invoices: finalized invoices and credit notes as Factur-X (EN 16931) XML and PDF."""
