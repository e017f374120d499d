"""The pure rules of leadbill: no I/O, no ORM, no clock, no framework.

Every function here takes the instant it needs (`as_of`) as an argument, so the
same inputs always give the same money.
"""
