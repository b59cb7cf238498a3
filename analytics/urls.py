from django.contrib import admin
from django.urls import include, path
from drf_spectacular.renderers import (
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
)
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from analytics import views
from ingest import sdk

urlpatterns = [
    path("", views.home, name="home"),
    path("v1/health", views.health, name="health"),
    # JSON first, so /v1/schema answers JSON like the rest of the API; ?format=yaml for YAML.
    # Both also under their plain media types, so that Accept: application/json (or
    # application/yaml) gets the schema rather than a 406.
    path(
        "v1/schema",
        SpectacularAPIView.as_view(
            renderer_classes=[OpenApiJsonRenderer, OpenApiYamlRenderer, OpenApiJsonRenderer2, OpenApiYamlRenderer2]
        ),
        name="schema",
    ),
    # The split view serves its start-up script from /v1/docs?script= instead of inline, which
    # the Content-Security-Policy refuses.
    path(
        "v1/docs",
        SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="api/swagger_ui.html"),
        name="docs",
    ),
    path("v1/", include("projects.urls")),
    path("v1/sdk.js", sdk.serve_sdk, name="sdk"),
    path("v1/", include("ingest.urls")),
    path("v1/", include("insights.urls")),
    path("v1/", include("experiments.urls")),
    path("v1/", include("rights.urls")),
    # The heatmap overlay on a project's own pages: no part of the /v1 contract.
    path("overlay/", include("insights.overlay_urls")),
    path("admin/", admin.site.urls),
]

handler404 = "analytics.views.page_not_found"
handler500 = "analytics.views.server_error"
