from django.contrib import admin
from django.urls import include, path

from analytics import views
from ingest import sdk

urlpatterns = [
    path("v1/health", views.health, name="health"),
    path("v1/", include("projects.urls")),
    path("v1/sdk.js", sdk.serve_sdk, name="sdk"),
    path("v1/", include("ingest.urls")),
    path("v1/", include("ingest.insights_urls")),
    path("v1/", include("experiments.urls")),
    path("admin/", admin.site.urls),
]

handler404 = "analytics.views.page_not_found"
handler500 = "analytics.views.server_error"
