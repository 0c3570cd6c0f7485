"""A fake Spotify Accounts service and Web API for tests and the demo (see server.py)."""

from fake_spotify.server import Client, FakeSpotify, Fault, create_app

__all__ = ["Client", "FakeSpotify", "Fault", "create_app"]
