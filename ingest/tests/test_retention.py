from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from ingest import retention, services, tasks
from ingest.hours import floor_hour
from ingest.models import (
    BatchClaim,
    Event,
    EventKey,
    MovementSample,
    SealedDay,
    SealedDayCount,
    Session,
    SessionHour,
)
from projects.models import FilteredBotHour

pytestmark = pytest.mark.django_db


def seed(project, *, age_days: int, count: int, name: str) -> Session:
    moment = timezone.now() - timedelta(days=age_days)
    session = Session.objects.create(
        project=project, session_id=name, anon_id=name, first_seen_at=moment, last_seen_at=moment
    )
    Event.objects.bulk_create(
        Event(
            project=project,
            session=session,
            client_id=f"{name}-{i}",
            type="page_view",
            occurred_at=moment,
            received_at=moment,
        )
        for i in range(count)
    )
    EventKey.objects.bulk_create(
        EventKey(project=project, client_id=f"{name}-{i}", received_at=moment) for i in range(count)
    )
    BatchClaim.objects.create(project=project, batch_key=f"{name}-batch", received_at=moment)
    FilteredBotHour.objects.create(project=project, hour=floor_hour(moment), requests=count)
    MovementSample.objects.bulk_create(
        MovementSample(project=project, session=session, occurred_at=moment, x=i, y=i, kind="move")
        for i in range(count)
    )
    services.rebuild_rollups(start=moment, end=moment + timedelta(microseconds=1))
    return session


def test_it_deletes_only_rows_older_than_the_cutoff(tenant, other_tenant):
    seed(tenant.project, age_days=100, count=7, name="old")
    recent = seed(tenant.project, age_days=10, count=3, name="recent")
    seed(other_tenant.project, age_days=95, count=2, name="other-old")
    counts = retention.sweep_retention(days=90)
    # Per old session its hour, and that hour's count of page views and of path "", each over
    # all sessions and for the session's dimensions.
    assert counts == {
        "sealedDays": 0,
        "partitions": 0,
        "events": 9,
        "movement": 9,
        "eventKeys": 9,
        "batchClaims": 2,
        "sessions": 2,
        "sessionHours": 2,
        "hourlyCounts": 8,
        "filteredBotHours": 2,
    }
    assert SessionHour.objects.count() == 1
    assert list(FilteredBotHour.objects.values_list("requests", flat=True)) == [3]
    assert list(Session.objects.all()) == [recent]
    assert Event.objects.count() == MovementSample.objects.count() == EventKey.objects.count() == 3
    assert list(BatchClaim.objects.values_list("batch_key", flat=True)) == ["recent-batch"]
    assert set(Event.objects.values_list("session_id", flat=True)) == {recent.pk}


def test_sealed_days_with_an_hour_before_the_cutoff_go_with_their_aggregates(tenant):
    seed(tenant.project, age_days=100, count=2, name="old")
    seed(tenant.project, age_days=10, count=2, name="recent")
    sealed = services.seal_due_days(now=timezone.now())
    assert len(sealed) == 2
    counts = retention.sweep_retention(days=90)
    assert counts["sealedDays"] == 1
    [kept] = SealedDay.objects.all()
    assert kept.day == (timezone.now() - timedelta(days=10)).date()
    assert set(SealedDayCount.objects.values_list("day", flat=True)) == {kept.day}


def test_it_deletes_in_bounded_batches(tenant, monkeypatch):
    seed(tenant.project, age_days=100, count=25, name="old")
    monkeypatch.setattr(retention, "RETENTION_BATCH", 10)
    deletes = []
    real_delete = Event.objects.filter(pk__in=[]).delete.__func__

    def counting_delete(queryset):
        deleted = real_delete(queryset)
        deletes.append((queryset.model.__name__, deleted[0]))
        return deleted

    monkeypatch.setattr("django.db.models.query.QuerySet.delete", counting_delete)
    retention.sweep_retention(days=90)
    event_batches = [count for model, count in deletes if model == "Event"]
    assert event_batches == [10, 10, 5]
    assert Event.objects.count() == 0


def test_zero_days_keeps_everything(tenant):
    seed(tenant.project, age_days=1000, count=2, name="ancient")
    assert retention.sweep_retention(days=0) == {}
    assert Event.objects.count() == 2


def test_the_dry_run_counts_and_deletes_nothing(tenant):
    seed(tenant.project, age_days=100, count=4, name="old")
    output = StringIO()
    call_command("sweep_retention", "--days", "30", "--dry-run", stdout=output)
    assert (
        "Would delete rows older than 30 days: 0 partitions, 4 events, 4 movement, 4 eventKeys, 1 sessions"
        in output.getvalue()
    )
    assert Event.objects.count() == 4


def test_the_command_deletes_with_the_configured_days(tenant, settings):
    settings.RETENTION_DAYS = 50
    seed(tenant.project, age_days=60, count=2, name="old")
    seed(tenant.project, age_days=40, count=1, name="newer")
    output = StringIO()
    call_command("sweep_retention", stdout=output)
    assert "Deleted rows older than 50 days: 0 partitions, 2 events" in output.getvalue()
    assert Event.objects.count() == 1


def test_the_celery_task_runs_the_sweep(tenant, settings):
    settings.RETENTION_DAYS = 90
    seed(tenant.project, age_days=120, count=3, name="old")
    result = tasks.sweep_retention.apply().get()
    assert result["events"] == 3
    assert Event.objects.count() == 0


def test_the_beat_schedule_runs_the_sweep_task():
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["sweep-retention"]
    assert entry["task"] == tasks.sweep_retention.name
    assert entry["schedule"] == float(settings.RETENTION_SWEEP_INTERVAL_S)


def _days(project, days: int | None) -> None:
    project.retention_days = days
    project.save(update_fields=["retention_days"])


def test_a_project_keeps_its_data_for_its_own_retention(tenant, other_tenant):
    _days(tenant.project, 10)
    seed(tenant.project, age_days=20, count=3, name="short-old")
    kept = seed(tenant.project, age_days=5, count=1, name="short-recent")
    other = seed(other_tenant.project, age_days=20, count=2, name="default-recent")
    counts = retention.sweep_retention(days=90)
    assert (counts["events"], counts["sessions"], counts["eventKeys"], counts["batchClaims"]) == (3, 1, 3, 1)
    assert set(Session.objects.values_list("pk", flat=True)) == {kept.pk, other.pk}
    assert Event.objects.filter(project=tenant.project).count() == 1
    assert MovementSample.objects.filter(project=other_tenant.project).count() == 2
    assert set(SessionHour.objects.values_list("session_id", flat=True)) == {kept.pk, other.pk}


def test_zero_days_keeps_a_projects_data_forever_and_null_follows_the_global_setting(tenant, other_tenant):
    _days(tenant.project, 0)
    forever = seed(tenant.project, age_days=400, count=2, name="forever")
    seed(other_tenant.project, age_days=400, count=2, name="expired")
    counts = retention.sweep_retention(days=90)
    assert counts["events"] == 2
    assert list(Session.objects.values_list("pk", flat=True)) == [forever.pk]


def test_a_project_expires_its_data_even_when_the_global_retention_is_off(tenant, other_tenant):
    _days(other_tenant.project, 30)
    kept = seed(tenant.project, age_days=400, count=2, name="kept")
    seed(other_tenant.project, age_days=40, count=3, name="expired")
    assert retention.sweep_retention(days=0)["events"] == 3
    assert list(Session.objects.values_list("pk", flat=True)) == [kept.pk]
    _days(other_tenant.project, None)
    assert retention.sweep_retention(days=0) == {}


def test_a_day_partition_stays_while_a_project_with_rows_in_it_keeps_them(tenant, other_tenant):
    from ingest import partitions

    today = timezone.now().date()
    old_day = today - timedelta(days=40)
    partitions.ensure_partitions(start=old_day, days=1)
    _days(tenant.project, 60)
    moment = timezone.now() - timedelta(days=40)
    keeps = seed(tenant.project, age_days=40, count=2, name="keeps")
    seed(other_tenant.project, age_days=40, count=3, name="goes")
    counts = retention.sweep_retention(days=30)
    assert counts["partitions"] == 0
    assert counts["events"] == 3  # the other project's rows, deleted in batches
    assert old_day in partitions.day_partitions("ingest_event")
    assert list(Session.objects.values_list("pk", flat=True)) == [keeps.pk]
    assert Event.objects.filter(occurred_at__date=moment.date()).count() == 2
    # Once that project's rows are gone too, the day goes whole.
    _days(tenant.project, 35)
    counts = retention.sweep_retention(days=30)
    assert (counts["partitions"], counts["events"]) == (2, 0)
    assert old_day not in partitions.day_partitions("ingest_event")
    assert not Session.objects.exists()
