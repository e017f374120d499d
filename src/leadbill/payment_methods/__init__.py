"""Payment methods: how an account pays its invoices."""
