"""JSON Schemas of the MQTT payloads (data files; see docs/mqtt.md)."""
