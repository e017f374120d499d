"""leadbill: a billing engine for businesses that sell leads."""

__version__ = "0.1.0"
