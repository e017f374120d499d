"""The portal: server-rendered pages for customers and operator staff."""
