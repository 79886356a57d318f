"""recstream's streaming side: everything that touches Kafka (apps, parsing, CLI)."""
