"""Every list of the dashboard as a CSV file, for the page's range and filters."""

import csv
import io

import pytest
from django.contrib.auth.models import User

from ingest.tests.factories import make_event, make_session
from insights.admin import CSV_LISTS

pytestmark = pytest.mark.django_db

RANGE = "range=custom&from=2025-03-10&to=2025-03-10"


@pytest.fixture
def day(tenant, other_tenant):
    project = tenant.project
    chrome = make_session(
        project,
        anon_id="a",
        browser="Chrome",
        os="Windows",
        device="desktop",
        country="US",
        source="Google",
        channel="Organic Search",
        referrer='=HYPERLINK("https://evil.example")',
        language="en-US",
        screen_width=1440,
        screen_height=900,
    )
    make_event(chrome, "2025-03-10 10:00", path="/")
    make_event(chrome, "2025-03-10 10:01", path="/pricing")
    make_event(chrome, "2025-03-10 10:02", type="+cmd", path="/pricing")
    safari = make_session(
        project, anon_id="b", browser="Safari", device="mobile", utm_campaign="@spring", language="-de"
    )
    make_event(safari, "2025-03-10 11:00", path="/pricing")
    make_event(make_session(project, anon_id="c", browser="Chrome"), "2025-03-09 23:59", path="/yesterday")
    make_event(make_session(other_tenant.project, anon_id="z", browser="Chrome"), "2025-03-10 10:00", path="/secret")
    return tenant


def csv_url(project, name: str) -> str:
    return f"/admin/projects/project/{project.id}/insights/csv/{name}/"


def rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_top_paths_are_a_csv_file_of_the_range(admin_client, day):
    response = admin_client.get(f"{csv_url(day.project, 'paths')}?{RANGE}")
    assert rows(response) == [["path", "page_views"], ["/pricing", "2"], ["/", "1"]]
    assert response["Content-Disposition"] == 'attachment; filename="shop-paths-2025-03-10-to-2025-03-10.csv"'


def test_cells_that_a_spreadsheet_would_run_are_quoted(admin_client, day):
    project = day.project
    assert rows(admin_client.get(f"{csv_url(project, 'referrers')}?{RANGE}")) == [
        ["referrer", "sessions"],
        ["", "1"],
        ['\'=HYPERLINK("https://evil.example")', "1"],
    ]
    assert rows(admin_client.get(f"{csv_url(project, 'event-types')}?{RANGE}")) == [
        ["type", "events"],
        ["page_view", "3"],
        ["'+cmd", "1"],
    ]
    assert rows(admin_client.get(f"{csv_url(project, 'campaigns')}?{RANGE}")) == [
        ["utmCampaign", "sessions"],
        ["'@spring", "1"],
    ]
    assert rows(admin_client.get(f"{csv_url(project, 'languages')}?{RANGE}")) == [
        ["language", "sessions"],
        ["'-de", "1"],
        ["en-US", "1"],
    ]


def test_session_lists_and_screens_have_their_own_columns(admin_client, day):
    project = day.project
    assert rows(admin_client.get(f"{csv_url(project, 'screen-sizes')}?{RANGE}")) == [
        ["width", "height", "sessions"],
        ["1440", "900", "1"],
        ["", "", "1"],
    ]
    # A value not known is an empty cell.
    assert rows(admin_client.get(f"{csv_url(project, 'operating-systems')}?{RANGE}")) == [
        ["os", "sessions"],
        ["Windows", "1"],
        ["", "1"],
    ]
    assert rows(admin_client.get(f"{csv_url(project, 'browsers')}?{RANGE}"))[1:] == [["Chrome", "1"], ["Safari", "1"]]


def test_entry_and_exit_pages_count_sessions_per_first_and_last_page_view(admin_client, day):
    project = day.project
    # The Chrome session went from / to /pricing, the Safari one saw /pricing only.
    assert rows(admin_client.get(f"{csv_url(project, 'entry-pages')}?{RANGE}")) == [
        ["path", "sessions"],
        ["/", "1"],
        ["/pricing", "1"],
    ]
    assert rows(admin_client.get(f"{csv_url(project, 'exit-pages')}?{RANGE}")) == [
        ["path", "sessions"],
        ["/pricing", "2"],
    ]
    response = admin_client.get(f"{csv_url(project, 'entry-pages')}?{RANGE}&browser=Safari")
    assert rows(response) == [["path", "sessions"], ["/pricing", "1"]]
    assert response["Content-Disposition"] == 'attachment; filename="shop-entry-pages-2025-03-10-to-2025-03-10.csv"'


def test_the_filters_of_the_page_apply(admin_client, day):
    response = admin_client.get(f"{csv_url(day.project, 'paths')}?{RANGE}&browser=Safari")
    assert rows(response) == [["path", "page_views"], ["/pricing", "1"]]
    response = admin_client.get(f"{csv_url(day.project, 'devices')}?{RANGE}&device=desktop")
    assert rows(response) == [["device", "sessions"], ["desktop", "1"]]


def test_the_dashboard_links_every_list_to_its_csv_with_the_range_and_filters(admin_client, day):
    html = admin_client.get(
        f"/admin/projects/project/{day.project.id}/insights/?{RANGE}&browser=Chrome"
    ).content.decode()
    for name in CSV_LISTS:
        query = "range=custom&amp;from=2025-03-10&amp;to=2025-03-10&amp;browser=Chrome"
        assert f'href="{csv_url(day.project, name)}?{query}"' in html, name
    assert len(CSV_LISTS) == 14


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("range=custom&from=yesterday", "is not an ISO 8601 date"),
        ("range=custom&from=2025-03-10&to=2025-03-01", "must be before"),
        ("device=phone", "is not one of"),
        ("browser=a&browser=b", "give it once"),
    ],
)
def test_a_bad_range_or_filter_is_refused_not_replaced(admin_client, day, query, message):
    response = admin_client.get(f"{csv_url(day.project, 'paths')}?{query}")
    assert response.status_code == 400
    assert message in response.content.decode()


def test_an_unknown_list_or_project_is_not_found(admin_client, day):
    assert admin_client.get(csv_url(day.project, "secrets")).status_code == 404
    assert admin_client.get("/admin/projects/project/nope/insights/csv/paths/").status_code == 404


def test_only_staff_who_may_view_projects_get_it(client, day):
    assert client.get(csv_url(day.project, "paths")).status_code == 302
    client.force_login(User.objects.create_user("staff", password="a-long-password-1", is_staff=True))
    assert client.get(csv_url(day.project, "paths")).status_code == 403
