from django.urls import path

from insights import overlay_views

urlpatterns = [
    path("heatmap.js", overlay_views.overlay_script, name="overlay-script"),
    path("heatmap", overlay_views.overlay_heatmap, name="overlay-heatmap"),
]
