"""The learning app's API, under /api/v1/ (``path("api/v1/", include("learning.api_urls"))``)."""

from django.urls import path, re_path

from learning import api, practice_api

urlpatterns = [
    path("agents/<int:pk>/training/", api.AgentTraining.as_view(), name="api-agent-training"),
    path(
        "agents/<int:pk>/training/jobs/",
        api.AgentTrainingJobs.as_view(),
        name="api-agent-training-jobs",
    ),
    # any segment as the number: the view refuses what is not one, after authentication
    re_path(
        r"^agents/(?P<pk>[0-9]+)/versions/(?P<number>[^/]+)/promote/$",
        api.VersionPromote.as_view(),
        name="api-agent-version-promote",
    ),
    path("proofs/<int:seq>/", api.ProofDetail.as_view(), name="api-proof-detail"),
    path("practice/", practice_api.PracticeRuns.as_view(), name="api-practice"),
    path("practice/<int:pk>/", practice_api.PracticeRunDetail.as_view(), name="api-practice-run"),
    path(
        "practice/<int:pk>/apply/",
        practice_api.PracticeRunApply.as_view(),
        name="api-practice-apply",
    ),
]
