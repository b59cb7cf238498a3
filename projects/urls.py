from django.urls import path

from projects import views

urlpatterns = [
    path("projects", views.ProjectsView.as_view(), name="projects"),
    path("projects/<str:project_id>", views.ProjectView.as_view(), name="project"),
    path("projects/<str:project_id>/keys", views.ProjectKeysView.as_view(), name="project-keys"),
    path("projects/<str:project_id>/keys/<str:key>", views.ProjectKeyView.as_view(), name="project-key"),
]
