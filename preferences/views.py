"""The export page and download for a space's creator and staff.

``/spaces/<slug>/export/`` shows the filters, the row count and the manifest the download would
have; ``/spaces/<slug>/export/<fmt>/`` answers a zip streamed as it is written
(``preferences.streaming``). Filters come as query parameters: ``since``, ``until``,
``min_margin``, ``min_agreement``, ``agent`` (repeatable), ``include_system_prompt``. Anyone else
gets a 404."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from ledger.throttling import too_many_requests
from preferences.errors import PreferenceError
from preferences.export_preview import export_preview
from preferences.export_spec import STREAMED_FORMATS, export_spec
from preferences.forms import ExportFilterForm
from preferences.streaming import zip_response
from preferences.throttling import export_throttle_hit
from spaces.selectors import spaces_managed_by

TRUE = ("1", "true", "on", "yes")


def _managed_space(request, slug: str):
    space = spaces_managed_by(request.user).filter(slug=slug).first()
    if space is None:
        raise Http404("no such export")
    return space


@require_GET
@login_required
def export_page(request, slug: str):
    space = _managed_space(request, slug)
    form = ExportFilterForm(request.GET if request.GET else None)
    preview, download_url = None, None
    if form.is_bound and form.is_valid():
        query = form.query()
        fmt = form.cleaned_data["fmt"]
        try:
            spec = export_spec(space=space, fmt=fmt, **query)
        except PreferenceError as exc:
            form.add_error(None, str(exc))
        else:
            preview = export_preview(spec)
            url = reverse("preferences-export", kwargs={"slug": space.slug, "fmt": fmt})
            download_url = f"{url}?{urlencode(query)}" if query else url
    context = {
        "space": space,
        "form": form,
        "preview": preview,
        "manifest_json": json.dumps(preview.manifest, indent=2) if preview else "",
        "download_url": download_url,
    }
    return render(request, "preferences/export_page.html", context)


@require_GET
@login_required
def export_download(request, slug: str, fmt: str):
    space = _managed_space(request, slug)
    if fmt not in STREAMED_FORMATS:
        raise Http404("no such export")
    query = request.GET
    try:
        spec = export_spec(
            space=space,
            fmt=fmt,
            since=query.get("since"),
            until=query.get("until"),
            min_margin=query.get("min_margin"),
            min_agreement=query.get("min_agreement"),
            agents=query.getlist("agent"),
            include_system_prompt=query.get("include_system_prompt", "").lower() in TRUE,
        )
    except PreferenceError as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
    wait = export_throttle_hit(request)
    if wait:
        return too_many_requests(request, wait, "Too many exports; try again later.")
    return zip_response(request, spec)
