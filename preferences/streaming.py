"""A streamed zip download that never holds the export whole, under WSGI and ASGI alike.

Under ASGI (daphne), Django consumes a *synchronous* streaming iterator whole before sending
it (``StreamingHttpResponse.__aiter__`` lists it), so there the chunks are pulled one at a time
through ``sync_to_async`` (thread-sensitive: the database connection the queryset iterator holds
stays on its thread) by an asynchronous generator.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse

from preferences.export_spec import ExportSpec
from preferences.exporting import export_zip_chunks

_END = object()


async def _pull(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    step = sync_to_async(lambda: next(chunks, _END), thread_sensitive=True)
    try:
        while (chunk := await step()) is not _END:
            yield chunk
    finally:
        await sync_to_async(chunks.close, thread_sensitive=True)()


def zip_response(request, spec: ExportSpec) -> StreamingHttpResponse:
    """``request``: Django's HttpRequest (for DRF, ``request._request``)."""
    chunks = export_zip_chunks(spec)
    content = _pull(chunks) if isinstance(request, ASGIRequest) else chunks
    response = StreamingHttpResponse(content, content_type="application/zip")
    response["Content-Disposition"] = (
        f'attachment; filename="{spec.space.slug}-{spec.fmt}-preferences.zip"'
    )
    response["Cache-Control"] = "no-store"
    return response
