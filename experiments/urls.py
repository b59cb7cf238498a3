from django.urls import path

from experiments import views

urlpatterns = [
    path("experiments", views.ExperimentsView.as_view(), name="experiments"),
    path("experiments/<str:key>/assign", views.assign, name="experiment-assign"),
    path("experiments/<str:key>/convert", views.convert, name="experiment-convert"),
    path("experiments/<str:key>/results", views.ExperimentResultsView.as_view(), name="experiment-results"),
]
