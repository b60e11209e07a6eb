"""The export page's link on the space page, for its managers (``arena.hooks``), before the
per-format downloads of ``preferences.links``."""

from __future__ import annotations

from django.urls import reverse

from spaces.models import Space


def export_page_link(space: Space) -> list[tuple[str, str]]:
    return [
        (
            "Export preference data: choose filters, see the rows and the manifest",
            reverse("preferences-export-page", kwargs={"slug": space.slug}),
        )
    ]
