"""The supervisor terminal UI (Textual): one line from its store, or the fleet over MQTT."""
