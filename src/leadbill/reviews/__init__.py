"""Reviews: customers dispute leads, reviewers decide (R13-R15)."""
