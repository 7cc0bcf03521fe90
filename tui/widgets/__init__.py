"""Widgets the screens share: the alert banner, the big numbers, the charts, a frame."""
