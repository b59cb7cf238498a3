import pytest
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
