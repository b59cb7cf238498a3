from django.urls import path

from ingest import insights_views

urlpatterns = [
    path("projects/<str:project_id>/stats", insights_views.ProjectStatsView.as_view(), name="project-stats"),
    path(
        "projects/<str:project_id>/heatmap",
        insights_views.ProjectHeatmapView.as_view(),
        name="project-heatmap",
    ),
]
