"""Content hashes of pairs and the Merkle root of an export.

A pair's content hash is the sha256 of its canonical JSON: keys sorted, no whitespace
(separators "," and ":"), UTF-8 without escaping non-ASCII characters. The same pair always
gives the same bytes, so anyone holding an export's ``pairs.jsonl`` can recompute every hash.

An export's Merkle root commits to the exported pairs in order. Leaves are the 32-byte digests
of the pairs' content hashes; a parent is ``sha256(left || right)``; at each level the pairs are
taken left to right and an odd last node is promoted to the next level unchanged (not paired
with itself, so a duplicated last leaf cannot forge the same root). One leaf is its own root; no
leaves give ``sha256(b"")``. ``MerkleRoot`` builds the same root streaming, keeping one node per
level (the shape equals RFC 6962's: the largest power of two on the left), so an export of any
size holds O(log n) hashes.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ledger.canonical import canonical_json

EMPTY_ROOT = hashlib.sha256(b"").hexdigest()


def content_sha256(payload: Any) -> str:
    return hashlib.sha256(canonical_json(payload)).hexdigest()


def _parent(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(left + right).digest()


def merkle_root(leaves_hex: list[str]) -> str:
    """The root of ``leaves_hex`` level by level: the definition ``MerkleRoot`` must match."""
    level = [bytes.fromhex(leaf) for leaf in leaves_hex]
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        pairs = [_parent(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        level = pairs + ([level[-1]] if len(level) % 2 else [])
    return level[0].hex()


class MerkleRoot:
    """The same root as ``merkle_root``, fed one leaf at a time: complete subtrees of equal
    height are merged as soon as both exist (a binary counter); at the end the remaining
    subtrees, highest on the left, are folded from the right, which is where promotion puts the
    odd nodes."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []  # (height, digest), heights strictly falling
        self.count = 0

    def add(self, leaf_hex: str) -> None:
        node = (0, bytes.fromhex(leaf_hex))
        if len(node[1]) != 32:
            raise ValueError(f"a leaf must be a sha256 hex digest, not {leaf_hex!r}")
        self.count += 1
        while self._stack and self._stack[-1][0] == node[0]:
            height, left = self._stack.pop()
            node = (height + 1, _parent(left, node[1]))
        self._stack.append(node)

    def hexdigest(self) -> str:
        if not self._stack:
            return EMPTY_ROOT
        digest = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            digest = _parent(left, digest)
        return digest.hex()
