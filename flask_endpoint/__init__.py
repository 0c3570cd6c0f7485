"""The Spotify login service (Flask): see flask_endpoint/app.py."""
