"""On-device agent: camera -> flow -> counting -> inspection -> OEE -> store -> MQTT."""

__version__ = "0.1.0"
