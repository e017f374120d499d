"""E-mail: the mail outbox, its SMTP delivery, and the messages leadbill sends."""
