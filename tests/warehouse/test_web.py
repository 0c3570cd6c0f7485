"""warehouse.web's comparison of secrets: any text, compared as UTF-8 bytes, never an exception."""

from __future__ import annotations

from warehouse.web import origin_of, same_secret


def test_secrets_compare_as_utf8_bytes_whatever_they_hold():
    assert same_secret("clé-ключ", "clé-ключ")
    assert not same_secret("clé", "cle") and not same_secret("ключ", "key")
    assert not same_secret(None, "key") and not same_secret(True, "key") and not same_secret("", "key")
    assert not same_secret("\udc80", "key")  # a lone surrogate (undecodable input) is just different


def test_origins_as_browsers_send_them():
    assert origin_of("https://Wrapped.example.org/callback?x=1") == "https://wrapped.example.org"
    assert origin_of("http://127.0.0.1:5000/") == "http://127.0.0.1:5000"
    assert origin_of("null") is None and origin_of("javascript:alert(1)") is None
