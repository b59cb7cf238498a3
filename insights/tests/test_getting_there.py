"""The ways to a dashboard: the admin's index, the project list and page, and `/`."""

import pytest
from django.contrib.auth.models import Permission, User

pytestmark = pytest.mark.django_db


def dashboard_link(project) -> str:
    return f'<a href="/admin/projects/project/{project.id}/insights/">{project.name}</a>'


def test_the_admin_index_links_every_projects_dashboard(admin_client, tenant, other_tenant):
    html = admin_client.get("/admin/").content.decode()
    assert "Traffic dashboards" in html
    assert dashboard_link(tenant.project) in html and dashboard_link(other_tenant.project) in html
    # By name: blog before shop.
    assert html.index(dashboard_link(other_tenant.project)) < html.index(dashboard_link(tenant.project))


def test_staff_without_the_view_permission_see_no_dashboards_on_the_index(client, tenant):
    staff = User.objects.create_user("staff", password="a-long-password-1", is_staff=True)
    client.force_login(staff)
    html = client.get("/admin/").content.decode()
    assert "Traffic dashboards" not in html and tenant.project.name not in html
    staff.user_permissions.add(Permission.objects.get(codename="view_project"))
    client.force_login(User.objects.get(pk=staff.pk))
    assert dashboard_link(tenant.project) in client.get("/admin/").content.decode()


def test_staff_opening_the_home_page_land_on_their_projects_with_dashboard_links(admin_client, tenant):
    response = admin_client.get("/", follow=True)
    assert response.redirect_chain == [("/admin/projects/project/", 302)]
    assert f'href="/admin/projects/project/{tenant.project.id}/insights/"' in response.content.decode()


def test_everyone_else_gets_the_plain_home_page(client, tenant):
    response = client.get("/")
    assert response.status_code == 200
    assert "insights" not in response.content.decode()
