"""Pure trading domain: no I/O, Decimal money, time passed in by the caller."""
