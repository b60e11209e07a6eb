from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from arena import api_support
from arena.api_auth import TokenLoginView
from arena.views.accounts import LimitedAdminAuthenticationForm

# The admin's sign-in counts attempts like the site's (arena.login_limit).
admin.site.login_form = LimitedAdminAuthenticationForm

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/auth/token/", TokenLoginView.as_view(), name="api-token"),
    path("api/v1/", include("arena.api_urls")),
    path("api/v1/", include("preferences.api_urls")),
    path("api/v1/", include("learning.api_urls")),
    path("wallet/", include("ledger.web_urls")),
    path("", include("preferences.urls")),
    path("", include("learning.urls")),
    path("", include("arena.web_urls")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

# Everything under /api/ answers JSON, Django's own 400/403/404/500 included (the rest of the
# site keeps HTML); CSRF refusals too, through settings.CSRF_FAILURE_VIEW.
urlpatterns.append(api_support.api_catch_all)
handler400 = "arena.api_support.bad_request"
handler403 = "arena.api_support.permission_denied"
handler404 = "arena.api_support.page_not_found"
handler500 = "arena.api_support.server_error"
