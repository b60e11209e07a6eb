from django.urls import path

from preferences import api

urlpatterns = [
    path(
        "spaces/<slug:slug>/preferences/<str:fmt>/",
        api.PreferenceExport.as_view(),
        name="api-preferences-export",
    ),
]
