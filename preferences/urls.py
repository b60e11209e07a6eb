from django.urls import path

from preferences import views

urlpatterns = [
    path("spaces/<slug:slug>/export/", views.export_page, name="preferences-export-page"),
    path(
        "spaces/<slug:slug>/export/<str:fmt>/",
        views.export_download,
        name="preferences-export",
    ),
]
