"""The learning app's pages. Mounted at the site root: ``path("", include("learning.urls"))``."""

from django.urls import path

from learning import practice_pages, views

app_name = "learning"

urlpatterns = [
    path("agents/<int:pk>/training/", views.training_section, name="training"),
    path("agents/<int:pk>/training/jobs/", views.train_now, name="train"),
    path(
        "agents/<int:pk>/training/versions/<int:number>/promote/",
        views.promote,
        name="promote",
    ),
    path("proofs/<int:seq>/", views.proof_page, name="proof"),
    path("agents/<int:pk>/practice/", practice_pages.practice_page, name="practice"),
    path("agents/<int:pk>/practice/panel/", practice_pages.practice_panel, name="practice-panel"),
    path("agents/compare/", practice_pages.compare_page, name="practice-compare"),
    path("practice/<int:pk>/", practice_pages.run_page, name="practice-run"),
    path("practice/<int:pk>/live/", practice_pages.run_fragment, name="practice-live"),
    path("practice/<int:pk>/apply/", practice_pages.run_apply, name="practice-apply"),
]
