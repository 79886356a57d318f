"""recstream's model side: everything that touches torch and nothing that touches Kafka."""
