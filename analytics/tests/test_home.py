import pytest
from django.contrib.auth.models import Permission, User

pytestmark = pytest.mark.django_db


def test_it_tells_a_visitor_what_the_service_is(client):
    response = client.get("/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "web-analytics service" in page
    assert 'href="/admin/"' in page
    assert 'href="/v1/docs"' in page


def test_it_sends_signed_in_staff_to_their_projects(admin_client):
    response = admin_client.get("/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/projects/project/"


def test_it_sends_staff_who_may_not_see_projects_to_the_admin_index(client):
    staff = User.objects.create_user("clerk", password="pw", is_staff=True)
    client.force_login(staff)
    assert client.get("/")["Location"] == "/admin/"

    staff.user_permissions.add(Permission.objects.get(codename="view_project"))
    assert client.get("/")["Location"] == "/admin/projects/project/"


def test_it_shows_the_page_to_a_signed_in_user_who_is_not_staff(client):
    client.force_login(User.objects.create_user("visitor", password="pw"))

    response = client.get("/")

    assert response.status_code == 200
    assert b"sign in to the admin" in response.content


def test_it_only_answers_reads(client):
    assert client.head("/").status_code == 200
    assert client.post("/").status_code == 405


def test_the_admin_view_site_link_leads_to_it(admin_client):
    page = admin_client.get("/admin/").content.decode()

    assert 'href="/"' in page
