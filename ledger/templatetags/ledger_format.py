"""Template filters for money and wallets."""

from __future__ import annotations

import re

from django import template

register = template.Library()

# A wallet address, or a username made from one (SIWE users: the address, or its first 34
# characters and a suffix when the address was taken).
_ADDRESS_LIKE = re.compile(r"^0x[0-9a-fA-F]{30,}")


@register.filter
def short_address(value) -> str:
    """``0x1234…abcd`` for a wallet address; anything else unchanged. The whole address stays
    available to show in a ``title`` attribute; this is for display only."""
    text = "" if value is None else str(value)
    if not _ADDRESS_LIKE.match(text):
        return text
    return f"{text[:6]}…{text[-4:]}"
