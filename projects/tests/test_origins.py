import pytest

from projects.origins import normalise_origin, normalise_origins


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://example.com", "https://example.com"),
        ("HTTPS://EXAMPLE.com:443", "https://example.com"),
        ("http://example.com:80", "http://example.com"),
        ("http://example.com:443", "http://example.com:443"),
        ("http://127.0.0.1:5173", "http://127.0.0.1:5173"),
        ("https://example.com/", "https://example.com"),
        ("http://[::1]:3000", "http://[::1]:3000"),
        ("capacitor://localhost", "capacitor://localhost"),
    ],
)
def test_it_normalises_origins(raw, expected):
    assert normalise_origin(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "example.com",
        "https://",
        "https://example.com/app",
        "https://example.com?x=1",
        "https://example.com#top",
        "https://user@example.com",
        "https://example.com:0x50",
        "https://example.com:70000",
        "//example.com",
        "null",
    ],
)
def test_it_refuses_what_is_not_an_origin(raw):
    with pytest.raises(ValueError):
        normalise_origin(raw)


def test_it_drops_duplicate_origins_keeping_order():
    assert normalise_origins(["https://b.test", "https://a.test", "HTTPS://B.test:443"]) == [
        "https://b.test",
        "https://a.test",
    ]
