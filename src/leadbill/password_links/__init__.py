"""Password links: the portal invitation and the password reset, one-time links by e-mail."""
