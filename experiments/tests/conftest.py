import pytest
from django.test import Client

from experiments import services
from experiments.models import Experiment


@pytest.fixture
def browser() -> Client:
    return Client()


@pytest.fixture
def checkout(tenant) -> Experiment:
    """A running 50/50 experiment of `tenant`, control first."""
    return services.create_experiment(project=tenant.project, key="checkout", variants=[("control", 50), ("b", 50)])
