"""Merkle tree hashing, inclusion and consistency proofs, as in RFC 9162 (Certificate
Transparency 2.0), section 2.1. Hashes are raw 32-byte SHA-256 digests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 leaf hash: SHA-256 of 0x00 and the leaf's bytes (a record's statement)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash: SHA-256 of 0x01 and the two children's hashes."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k << 1 < n:
        k <<= 1
    return k


def root(leaves: Iterable[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes (any iterable: a stream is read once, never held)."""
    return Frontier(leaves).root()


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]): the audit path for leaf ``index``."""
    return inclusion_path(index, len(leaves), lambda a, b: root(leaves[a:b]))


def inclusion_path(index: int, size: int, subtree_root: Callable[[int, int], bytes]) -> list[bytes]:
    """PATH(m, D[size]) with ``subtree_root(a, b)`` giving MTH(D[a:b]): the ranges it is asked
    for are disjoint, so a caller can stream each from storage and hold no leaves."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    # RFC 9162's recursion, top down: PATH(m, D[lo:hi]) is the path in the half holding m,
    # then the other half's root; so the siblings found here come out in reverse.
    siblings = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = lo + _split(hi - lo)
        if index < k:
            siblings.append(subtree_root(k, hi))
            hi = k
        else:
            siblings.append(subtree_root(lo, k))
            lo = k
    return siblings[::-1]


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root_hash: bytes):
    """RFC 9162 2.1.3.2: True when ``proof`` shows ``leaf`` at ``index`` in the tree."""
    # the index is unsigned: -1 would otherwise walk the path as the all-ones index
    if type(index) is not int or type(size) is not int or not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root_hash


def consistency_proof(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]): shows the tree of the first m leaves is a prefix of this one."""
    n = len(leaves)
    if not 0 < m <= n:
        raise ValueError(f"no consistency proof from size {m} to {n}")
    return _subproof(m, leaves, True)


def _subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [root(leaves)]
    k = _split(n)
    if m <= k:
        return _subproof(m, leaves[:k], complete) + [root(leaves[k:])]
    return _subproof(m - k, leaves[k:], False) + [root(leaves[:k])]


def verify_consistency(m: int, n: int, root_m: bytes, root_n: bytes, proof: list[bytes]) -> bool:
    """RFC 9162 2.1.4.2: True when the tree of size m is a prefix of the tree of size n."""
    if m == n:
        return root_m == root_n and not proof
    if not 0 < m < n or not proof:
        return False
    if m & (m - 1) == 0:  # m is a power of two: the old root is the first node
        proof = [root_m, *proof]
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == root_m and sr == root_n and sn == 0


class Frontier:
    """The right edge of a growing tree: O(log n) perfect-subtree roots, enough to append
    leaves and compute the root without reading the whole ledger again."""

    def __init__(self, leaves: Iterable[bytes] = ()):
        self.size = 0
        self._stack: list[tuple[int, bytes]] = []
        for h in leaves:
            self.append(h)

    @classmethod
    def from_nodes(cls, nodes: Iterable[tuple[int, bytes]]) -> Frontier:
        """The frontier made of these (height, subtree root) pairs, as :attr:`nodes` gives
        them; ValueError unless they can be one (heights strictly decreasing, each under 63:
        a tree has fewer than 2**63 leaves)."""
        frontier = cls()
        for height, node in nodes:
            if not 0 <= height < 63 or frontier._stack and frontier._stack[-1][0] <= height:
                raise ValueError("not a Merkle frontier: heights must decrease, from under 63")
            frontier._stack.append((height, node))
            frontier.size += 1 << height
        return frontier

    @property
    def nodes(self) -> list[tuple[int, bytes]]:
        """(height, root) of each perfect subtree on the right edge, the tallest first."""
        return list(self._stack)

    def append(self, leaf: bytes) -> None:
        height, node = 0, leaf
        while self._stack and self._stack[-1][0] == height:
            node = node_hash(self._stack.pop()[1], node)
            height += 1
        self._stack.append((height, node))
        self.size += 1

    def root(self) -> bytes:
        if not self._stack:
            return hashlib.sha256(b"").digest()
        node = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            node = node_hash(left, node)
        return node

    def copy(self) -> Frontier:
        other = Frontier()
        other.size, other._stack = self.size, list(self._stack)
        return other
