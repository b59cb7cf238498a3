from django.urls import path

from insights import views

urlpatterns = [
    path("projects/<str:project_id>/stats", views.ProjectStatsView.as_view(), name="project-stats"),
    path("projects/<str:project_id>/realtime", views.ProjectRealtimeView.as_view(), name="project-realtime"),
    path(
        "projects/<str:project_id>/heatmap",
        views.ProjectHeatmapView.as_view(),
        name="project-heatmap",
    ),
]
