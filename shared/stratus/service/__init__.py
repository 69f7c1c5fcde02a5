"""Use cases: one handler per function, the wiring that feeds them, and delivery rules."""
