"""Tax rates: data set by admins, applied by core.tax."""
