"""The export links a space's managers see on the space page (``arena.hooks``): one streamed
download per format that streams (the others are built by ``export_preferences``)."""

from __future__ import annotations

from django.urls import reverse

from preferences.export_spec import STREAMED_FORMATS
from spaces.models import Space


def export_links(space: Space) -> list[tuple[str, str]]:
    return [
        (
            f"Preference pairs, {fmt} (zip)",
            reverse("preferences-export", kwargs={"slug": space.slug, "fmt": fmt}),
        )
        for fmt in STREAMED_FORMATS
    ]
