from django.contrib.auth import views as auth_views
from django.urls import include, path

from arena.views import accounts, agents, entries, home, matches, spaces

arena_patterns = [
    path("spaces/", spaces.space_list, name="spaces"),
    path("spaces/<slug:slug>/", spaces.space_detail, name="space"),
    path("spaces/<slug:slug>/matches/", spaces.space_matches_fragment, name="space-matches"),
    path("spaces/<slug:slug>/enter/", entries.enter, name="enter"),
    path("entries/<int:pk>/leave/", entries.leave, name="leave"),
    path("matches/<int:pk>/", matches.match_detail, name="match"),
    path("matches/<int:pk>/body/", matches.match_fragment, name="match-body"),
    path("agents/", agents.agent_list, name="agents"),
    path("agents/new/", agents.agent_new, name="agent-new"),
    path("agents/<int:pk>/", agents.agent_detail, name="agent"),
    path("agents/<int:pk>/edit/", agents.agent_edit, name="agent-edit"),
    path("agents/<int:pk>/fork/", agents.agent_fork_view, name="agent-fork"),
]

urlpatterns = [
    path("", home.home, name="home"),
    path("accounts/register/", accounts.register, name="register"),
    path("accounts/login/", accounts.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include((arena_patterns, "arena"))),
]
