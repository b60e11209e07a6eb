"""A root urlconf for tests/api/test_api_errors.py: the site's own, plus two plain Django views
under /api/ (every real /api/ view is DRF's, which is CSRF-exempt and answers its own JSON), so
that Django's CSRF refusal and PermissionDenied reach the site's handlers."""

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.urls import path

from arena.urls import handler400, handler403, handler404, handler500  # noqa: F401
from arena.urls import urlpatterns as site_urlpatterns


def plain(request):
    # Not csrf_exempt: a POST without a CSRF token is refused by CsrfViewMiddleware.
    return HttpResponse("ok")


def forbidden(request):
    raise PermissionDenied("no")


urlpatterns = [
    path("api/plain/", plain),
    path("api/forbidden/", forbidden),
    path("plain/", plain),
    path("forbidden/", forbidden),
    *site_urlpatterns,
]
