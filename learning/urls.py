"""The learning app's pages. Mounted at the site root: ``path("", include("learning.urls"))``."""

from django.urls import path

from learning import views

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
]
