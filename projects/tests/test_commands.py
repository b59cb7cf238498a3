import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from projects.models import ApiKey, Project
from projects.selectors import project_for_key

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_createproject_prints_what_it_made():
    output = run("createproject", "shop", "--origin", "https://Shop.example", "--origin", "http://localhost:5173")
    project = Project.objects.get()
    assert project.origins == ["https://shop.example", "http://localhost:5173"]
    assert str(project.id) in output


def test_createproject_refuses_a_bad_origin():
    with pytest.raises(CommandError, match="scheme://host"):
        run("createproject", "shop", "--origin", "shop.example")
    assert Project.objects.count() == 0


def test_mintkey_takes_a_project_name_or_id(tenant):
    by_name = run("mintkey", "shop", "--label", "cli")
    by_id = run("mintkey", str(tenant.project.id))
    keys = ApiKey.objects.filter(project=tenant.project).exclude(key=tenant.key)
    assert keys.count() == 2
    for key in keys:
        assert key.key in by_name + by_id


def test_mintkey_refuses_an_unknown_project(db):
    with pytest.raises(CommandError, match="No single project"):
        run("mintkey", "nope")


def test_revokekey_revokes(tenant):
    output = run("revokekey", tenant.key)
    assert "Revoked" in output and tenant.key not in output
    assert project_for_key(key=tenant.key) is None


def test_revokekey_refuses_an_unknown_key(db):
    with pytest.raises(CommandError, match="No such key"):
        run("revokekey", "ak_unknown")


def test_createproject_if_missing_leaves_an_existing_project_alone(tenant):
    output = run("createproject", "shop", "--origin", "http://127.0.0.1:5173", "--if-missing")

    assert Project.objects.filter(name="shop").count() == 1
    assert Project.objects.get(name="shop").origins == [tenant.origin]
    assert f"Project shop ({tenant.project.id}) exists" in output


def test_createproject_if_missing_creates_a_missing_project(db):
    output = run("createproject", "demo", "--origin", "http://127.0.0.1:5173", "--if-missing")

    project = Project.objects.get(name="demo")
    assert project.origins == ["http://127.0.0.1:5173"]
    assert f"Created project demo ({project.id})" in output


@pytest.fixture
def superuser_env(monkeypatch):
    for name in ("DJANGO_SUPERUSER_USERNAME", "DJANGO_SUPERUSER_PASSWORD", "DJANGO_SUPERUSER_EMAIL"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_ensuresuperuser_makes_admin_admin_for_local_use(superuser_env, settings):
    settings.DEBUG = True

    output = run("ensuresuperuser")

    user = User.objects.get(username="admin")
    assert (user.is_staff, user.is_superuser, user.is_active) == (True, True, True)
    assert user.check_password("admin")
    assert "Created superuser 'admin', password 'admin' (local default)" in output


def test_ensuresuperuser_reads_the_environment_and_does_not_print_the_password(superuser_env, settings):
    settings.DEBUG = True
    superuser_env.setenv("DJANGO_SUPERUSER_USERNAME", "ops")
    superuser_env.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-unusual-passphrase-42")
    superuser_env.setenv("DJANGO_SUPERUSER_EMAIL", "ops@example.com")

    output = run("ensuresuperuser")

    user = User.objects.get(username="ops")
    assert user.email == "ops@example.com" and user.is_superuser
    assert user.check_password("a-long-unusual-passphrase-42")
    assert "a-long-unusual-passphrase-42" not in output and "password as given" in output


def test_ensuresuperuser_run_again_resets_the_password(superuser_env, settings):
    settings.DEBUG = True
    User.objects.create_user("admin", password="forgotten", email="me@example.com")

    output = run("ensuresuperuser")

    user = User.objects.get(username="admin")
    assert user.check_password("admin") and user.is_staff and user.is_superuser
    assert user.email == "me@example.com"
    assert "Updated (password reset) superuser 'admin'" in output
    assert User.objects.count() == 1


def test_ensuresuperuser_refuses_the_default_password_with_debug_off(superuser_env, settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG is off: set DJANGO_SUPERUSER_PASSWORD"):
        run("ensuresuperuser")

    assert not User.objects.exists()


def test_ensuresuperuser_refuses_a_weak_password_with_debug_off(superuser_env, settings):
    settings.DEBUG = False
    superuser_env.setenv("DJANGO_SUPERUSER_PASSWORD", "password")

    with pytest.raises(CommandError, match="too common"):
        run("ensuresuperuser")

    assert not User.objects.exists()
