from django.urls import path

from rights import views

urlpatterns = [
    # `path`: an anonId may hold a slash.
    path("projects/<str:project_id>/visitors/<path:anon_id>", views.VisitorView.as_view(), name="visitor"),
    path("projects/<str:project_id>/export", views.ExportView.as_view(), name="export"),
]
