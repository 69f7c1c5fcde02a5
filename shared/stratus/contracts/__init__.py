"""Message contracts: the Avro schemas in schemas/ and the codec that enforces them."""
