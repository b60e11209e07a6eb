"""Browser journeys; the `page` fixture lives in tests/conftest.py (arena uses it too)."""
