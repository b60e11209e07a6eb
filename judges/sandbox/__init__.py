"""Sandboxes for answer code: the bubblewrap profile, the two runners and their wire format."""
