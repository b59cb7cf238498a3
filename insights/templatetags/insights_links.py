"""Links to the traffic dashboards, for the admin's index page."""

from __future__ import annotations

from django import template
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.urls import reverse

from projects.models import Project

register = template.Library()

# The index lists this many projects; the project list (with its search) holds the rest.
MAX_LINKS = 50


@register.simple_tag
def project_dashboards(user: AbstractBaseUser | AnonymousUser) -> list[dict[str, str]]:
    """The dashboards this user may open, by project name; none without the view permission."""
    if not user.has_perm("projects.view_project"):
        return []
    return [
        {"name": project.name, "url": reverse("admin:projects_project_insights", args=[project.pk])}
        for project in Project.objects.order_by("name", "pk")[:MAX_LINKS]
    ]
