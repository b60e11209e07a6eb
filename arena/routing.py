from django.urls import path, re_path

from arena.consumers import MatchConsumer, SpaceConsumer

websocket_urlpatterns = [
    path("ws/matches/<int:match_id>/", MatchConsumer.as_asgi()),
    re_path(r"^ws/spaces/(?P<slug>[^/]+)/$", SpaceConsumer.as_asgi()),
]
