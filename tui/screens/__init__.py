"""The app's screens: one per mode, plus the help and reason-picker dialogs."""
