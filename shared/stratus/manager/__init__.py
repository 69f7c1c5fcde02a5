"""The manager: Cloud Run HTTP API over the system of record."""
