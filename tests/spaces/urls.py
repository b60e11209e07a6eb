"""A URLconf with only what the spaces tests need, so that they do not depend on other apps'
URL modules."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("spaces.api_urls")),
]
