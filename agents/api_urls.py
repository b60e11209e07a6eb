from django.urls import path

from agents import api

urlpatterns = [
    path("agents/", api.AgentListCreate.as_view(), name="api-agent-list"),
    path("agents/<int:pk>/", api.AgentDetail.as_view(), name="api-agent-detail"),
    path("agents/<int:pk>/fork/", api.AgentFork.as_view(), name="api-agent-fork"),
    path("agents/<int:pk>/adapters/", api.AgentAdapters.as_view(), name="api-agent-adapters"),
    path("agents/<int:pk>/revisions/", api.AgentRevisions.as_view(), name="api-agent-revisions"),
    path("base-models/", api.BaseModelList.as_view(), name="api-base-model-list"),
]
