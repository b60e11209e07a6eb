"""/api/v1/: each app contributes its own urlpatterns module."""

from importlib.util import find_spec

from django.urls import include, path

from arena import api, revision_stats_api

urlpatterns = [
    path("", include("ledger.api_urls")),
    path("entries/", api.EntryListCreate.as_view(), name="api-entry-list"),
    path("entries/<int:pk>/", api.EntryDetail.as_view(), name="api-entry-detail"),
    path("entries/<int:pk>/leave/", api.EntryLeave.as_view(), name="api-entry-leave"),
    path("matches/<int:pk>/", api.MatchDetail.as_view(), name="api-match-detail"),
    path(
        "spaces/<slug:slug>/leaderboard/",
        api.SpaceLeaderboard.as_view(),
        name="api-space-leaderboard",
    ),
    path("spaces/<slug:slug>/matches/", api.SpaceMatches.as_view(), name="api-space-matches"),
    path(
        "spaces/<slug:slug>/judge-report/",
        api.SpaceJudgeReport.as_view(),
        name="api-space-judge-report",
    ),
    path(
        "agents/<int:pk>/revision-stats/",
        revision_stats_api.AgentRevisionStats.as_view(),
        name="api-agent-revision-stats",
    ),
]

# The spaces and agents apps expose their own endpoints when present.
for module in ("spaces.api_urls", "agents.api_urls"):
    if find_spec(module) is not None:
        urlpatterns.append(path("", include(module)))
