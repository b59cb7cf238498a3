from celery import shared_task
from django.conf import settings
from django.utils import timezone

from ingest import retention, services


@shared_task
def sweep_retention() -> dict[str, int]:
    return retention.sweep_retention(days=settings.RETENTION_DAYS)


@shared_task
def maintain_partitions() -> list[str]:
    return services.maintain_partitions()


@shared_task
def compact_hourly_counts() -> int:
    return services.compact_hourly_counts()


@shared_task
def seal_days() -> int:
    return len(services.seal_due_days(now=timezone.now()))
