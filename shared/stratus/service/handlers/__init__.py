"""One module per use case; each handler is idempotent and safe under redelivery."""
