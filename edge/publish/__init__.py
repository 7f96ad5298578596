"""Publishing: outbox rows to the MQTT broker, at least once and in ``seq`` order."""
