"""The creator group's model permissions."""

from __future__ import annotations

import pytest
from django.apps import apps as global_apps
from django.contrib.auth.models import Group, Permission
from django.test import Client

from spaces.models import Space
from spaces.permissions import CREATOR_PERMISSIONS, grant_creator_permissions
from spaces.selectors import user_sees_all_spaces
from tests.spaces.test_admin import space_form

pytestmark = pytest.mark.django_db


def test_it_grants_view_add_change_and_nothing_else(carol, mallory):
    grant_creator_permissions()  # twice: idempotent
    grant_creator_permissions(global_apps)  # the way a data migration calls it
    group = Group.objects.get(name="space creators")
    codenames = set(group.permissions.values_list("codename", flat=True))
    expected = {f"{a}_{m}" for m, actions in CREATOR_PERMISSIONS.items() for a in actions}
    assert expected <= codenames
    assert not {c for c in codenames if c.startswith("delete_") and c.endswith(("space", "prompt"))}
    carol = type(carol).objects.get(pk=carol.pk)  # fresh permission cache
    assert carol.has_perms(["spaces.change_space", "spaces.add_prompt", "spaces.view_feetier"])
    assert not carol.has_perm("spaces.delete_space")
    assert not mallory.has_perm("spaces.view_space")
    assert Permission.objects.filter(codename="change_space").count() == 1


def test_it_treats_creators_as_owners_and_other_staff_as_managers(carol, staff, django_user_model):
    moderator = django_user_model.objects.create_user("mod", password="x", is_staff=True)
    assert not user_sees_all_spaces(carol)
    assert user_sees_all_spaces(staff)
    assert user_sees_all_spaces(moderator)


@pytest.mark.urls("tests.spaces.urls")
def test_it_lets_staff_add_a_space_for_a_creator(staff, carol):
    client = Client()
    client.force_login(staff)
    assert client.get("/admin/spaces/space/add/").context["adminform"].form.initial["creator"]
    response = client.post("/admin/spaces/space/add/", space_form(creator=str(carol.pk)))
    assert response.status_code == 302
    assert Space.objects.get(slug="haiku").creator == carol
