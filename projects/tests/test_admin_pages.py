import pytest

from projects import services
from projects.models import ApiKey, Project
from projects.selectors import project_for_key

pytestmark = pytest.mark.django_db


def test_the_admin_needs_a_staff_login(client):
    response = client.get("/admin/projects/project/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_a_staff_user_sees_projects_and_their_keys(admin_client, tenant, other_tenant):
    listing = admin_client.get("/admin/projects/project/")
    assert listing.status_code == 200
    assert b"shop" in listing.content and b"blog" in listing.content
    detail = admin_client.get(f"/admin/projects/project/{tenant.project.id}/change/")
    assert detail.status_code == 200
    assert tenant.key.encode() in detail.content


def test_a_staff_user_adds_a_project_with_origins(admin_client):
    response = admin_client.post(
        "/admin/projects/project/add/",
        {
            "name": "docs",
            "origins_text": "HTTPS://Docs.Example\nhttp://localhost:8000",
            "keys-TOTAL_FORMS": "0",
            "keys-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    project = Project.objects.get(name="docs")
    assert project.origins == ["https://docs.example", "http://localhost:8000"]


def test_the_admin_refuses_a_bad_origin(admin_client):
    response = admin_client.post(
        "/admin/projects/project/add/",
        {"name": "docs", "origins_text": "docs.example", "keys-TOTAL_FORMS": "0", "keys-INITIAL_FORMS": "0"},
    )
    assert response.status_code == 200
    assert b"is not scheme://host[:port]" in response.content
    assert Project.objects.count() == 0


def test_a_staff_user_mints_a_key_with_the_action(admin_client, tenant):
    response = admin_client.post(
        "/admin/projects/project/",
        {"action": "mint_key", "_selected_action": [str(tenant.project.id)]},
        follow=True,
    )
    assert response.status_code == 200
    minted = ApiKey.objects.filter(project=tenant.project).exclude(key=tenant.key).get()
    assert minted.key.encode() in response.content
    assert project_for_key(key=minted.key).id == tenant.project.id


def test_a_staff_user_revokes_a_key_with_the_action(admin_client, tenant, other_tenant):
    assert project_for_key(key=tenant.key) is not None
    api_key = ApiKey.objects.get(key=tenant.key)
    response = admin_client.post(
        "/admin/projects/apikey/", {"action": "revoke", "_selected_action": [str(api_key.pk)]}, follow=True
    )
    assert response.status_code == 200
    assert b"Revoked 1 key(s)." in response.content
    assert project_for_key(key=tenant.key) is None
    assert project_for_key(key=other_tenant.key) is not None


def test_the_key_list_filters_revoked_keys(admin_client, tenant, revoked_key):
    response = admin_client.get("/admin/projects/apikey/?state=revoked")
    assert response.status_code == 200
    assert revoked_key.encode() in response.content
    assert tenant.key.encode() not in response.content


def test_projects_cannot_be_deleted_in_the_admin(admin_client, tenant):
    response = admin_client.post(f"/admin/projects/project/{tenant.project.id}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert Project.objects.filter(pk=tenant.project.pk).exists()


def test_a_project_page_shows_the_install_snippet_of_each_active_key(admin_client, tenant):
    services.mint_key(project=tenant.project, label="spare")
    revoked = services.mint_key(project=tenant.project, label="old")
    services.revoke_key(api_key=revoked)

    page = admin_client.get(f"/admin/projects/project/{tenant.project.id}/change/").content.decode()

    snippets = page.split('<pre class="install-snippet">')[1:]
    assert len(snippets) == 2
    active = ApiKey.objects.filter(project=tenant.project, revoked_at__isnull=True)
    for api_key, snippet in zip(active, snippets, strict=True):
        # Escaped, so that staff read the tags rather than the browser running them.
        assert snippet.startswith(
            "&lt;script src=&quot;http://testserver/v1/sdk.js&quot;&gt;&lt;/script&gt;\n"
            f"&lt;script&gt;analytics.init({{ apiKey: &quot;{api_key.key}&quot; }});&lt;/script&gt;</pre>"
        )
    install = page.split('id="install"')[1].split("</fieldset>")[0]
    assert revoked.key not in install


def test_the_install_snippet_names_the_address_staff_reached_the_admin_by(admin_client, tenant):
    page = admin_client.get(
        f"/admin/projects/project/{tenant.project.id}/change/", headers={"host": "localhost:3002"}
    ).content.decode()

    assert "src=&quot;http://localhost:3002/v1/sdk.js&quot;" in page


def test_a_new_project_page_has_no_install_snippet(admin_client):
    page = admin_client.get("/admin/projects/project/add/").content.decode()

    assert 'id="install"' not in page
