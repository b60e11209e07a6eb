from spaces.api import urlpatterns

__all__ = ["urlpatterns"]
