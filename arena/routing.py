from django.urls import path, re_path

from arena.consumers import AgentConsumer, MatchConsumer, SpaceConsumer

websocket_urlpatterns = [
    path("ws/matches/<int:match_id>/", MatchConsumer.as_asgi()),
    re_path(r"^ws/spaces/(?P<slug>[^/]+)/$", SpaceConsumer.as_asgi()),
    path("ws/agents/<int:agent_id>/", AgentConsumer.as_asgi()),
]
