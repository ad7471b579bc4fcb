"""Placeholder: fixtures for this server family are added here."""

__all__: list[str] = []
