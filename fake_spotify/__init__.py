"""A fake Spotify Accounts service and Web API for tests and the demo (see server.py)."""

from fake_spotify.server import create_app
from fake_spotify.state import Client, FakeSpotify, Fault

__all__ = ["Client", "FakeSpotify", "Fault", "create_app"]
