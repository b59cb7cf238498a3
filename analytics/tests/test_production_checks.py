"""With DEBUG off, configuration that is unsafe in production stops the process at start-up."""

import re
import subprocess
import sys

import pytest
from django.conf import settings

from analytics.tests.live import ROOT, process_env

START = "import django; django.setup()"


def start_in_production(**overrides: str) -> subprocess.CompletedProcess:
    production = {
        "DJANGO_SETTINGS_MODULE": "analytics.settings",
        "DEBUG": "false",
        "SECRET_KEY": "probe-" + "p" * 50,
        "ALLOWED_HOSTS": "analytics.example.com",
        "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
        "REDIS_URL": "redis://127.0.0.1:1/0",
    }
    env = process_env(**{**production, **overrides})
    return subprocess.run([sys.executable, "-c", START], cwd=ROOT, env=env, capture_output=True, text=True)


def published_admin_keys() -> set[str]:
    """Every admin key written out in .env.example, the README and the manual's pages."""
    texts = [(ROOT / ".env.example").read_text(), (ROOT / "README.md").read_text()]
    texts += [page.read_text() for page in sorted((ROOT / "docs").glob("**/*.md"))]
    found = set()
    for text in texts:
        found.update(re.findall(r"\bADMIN(?:_API_KEY)?=([A-Za-z0-9_-]{8,})", text))
        found.update(re.findall(r"x-admin-key: ([A-Za-z0-9_-]{8,})", text, flags=re.IGNORECASE))
        found.update(re.findall(r"admin key `([A-Za-z0-9_-]{8,})`", text))
    return found


def test_every_published_admin_key_is_on_the_list_of_example_values():
    published = published_admin_keys()
    assert "dev-admin-key-1234567890" in published
    assert published <= settings.EXAMPLE_ADMIN_API_KEYS


@pytest.mark.parametrize("example", sorted(published_admin_keys()))
def test_it_refuses_to_start_with_a_published_admin_key(example):
    started = start_in_production(ADMIN_API_KEY=example)
    assert started.returncode != 0
    assert "ImproperlyConfigured" in started.stderr
    assert "ADMIN_API_KEY is an example value" in started.stderr
    assert example not in started.stderr  # the refusal does not print the key either


def test_it_starts_with_a_key_of_its_own():
    started = start_in_production(ADMIN_API_KEY="a-key-nobody-has-read-0123456789")
    assert started.returncode == 0, started.stderr


def test_debug_on_still_starts_with_the_development_key():
    started = start_in_production(DEBUG="true", ADMIN_API_KEY="dev-admin-key-1234567890")
    assert started.returncode == 0, started.stderr
