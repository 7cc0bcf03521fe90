"""pytest plugin for the emulated arm64 run (`-p pi.pytest_emulation`).

Under qemu a test runs 50-250x slower than natively, so hypothesis' per-example
deadline (200 ms) would fail tests that are correct, and property tests that search
100 examples natively would take most of an hour. Tests that set their own
`max_examples` keep it; every assertion is the same as in `make test`.
"""

from hypothesis import settings

#: Examples per property test without its own setting (hypothesis' default is 100).
PI_MAX_EXAMPLES = 15

settings.register_profile("pi-emulated", deadline=None, max_examples=PI_MAX_EXAMPLES)
settings.load_profile("pi-emulated")
