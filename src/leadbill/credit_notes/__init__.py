"""Credit notes: corrections to finalized invoices, applied to the next invoice (R15, R7)."""
