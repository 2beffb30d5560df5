"""RFC 9162 Merkle trees: roots, inclusion and consistency proofs, checked exhaustively."""

from __future__ import annotations

import hashlib

from archive import merkle


def leaves(n):
    return [merkle.leaf_hash(bytes([i])) for i in range(n)]


def naive_root(hs):
    if len(hs) == 1:
        return hs[0]
    k = 1
    while k * 2 < len(hs):
        k *= 2
    return merkle.node_hash(naive_root(hs[:k]), naive_root(hs[k:]))


def test_known_answers():
    assert merkle.root([]).hex() == hashlib.sha256(b"").hexdigest()
    assert merkle.leaf_hash(b"").hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
    # the CT test vectors' 8-leaf tree starts with the empty leaf and 0x00
    two = [merkle.leaf_hash(b""), merkle.leaf_hash(b"\x00")]
    assert merkle.root(two) == merkle.node_hash(*two)


def test_root_matches_definition():
    for n in range(1, 40):
        assert merkle.root(leaves(n)) == naive_root(leaves(n)), n


def test_inclusion_every_leaf():
    for n in range(1, 20):
        hs = leaves(n)
        r = merkle.root(hs)
        for i in range(n):
            proof = merkle.inclusion_proof(i, hs)
            assert merkle.verify_inclusion(hs[i], i, n, proof, r)
            assert not merkle.verify_inclusion(hs[(i + 1) % n], i, n, proof, r) or n == 1
            if proof:
                bad = [proof[0][:-1] + bytes([proof[0][-1] ^ 1]), *proof[1:]]
                assert not merkle.verify_inclusion(hs[i], i, n, bad, r)
    # RFC 9162's index is unsigned: -1 must not pass as the all-ones index (found in review)
    hs = leaves(4)
    assert merkle.verify_inclusion(hs[3], 3, 4, merkle.inclusion_proof(3, hs), merkle.root(hs))
    assert not merkle.verify_inclusion(hs[3], -1, 4, merkle.inclusion_proof(3, hs), merkle.root(hs))
    assert not merkle.verify_inclusion(
        hs[3], 3.0, 4, merkle.inclusion_proof(3, hs), merkle.root(hs)
    )


def test_an_inclusion_proof_must_have_the_length_of_its_tree_size():
    """A proof is the path of leaf i in a tree of the size given: claimed for a size whose path
    is longer or shorter, it must fail, even where its hashes reach the root (without the
    check, a 4-leaf tree's proofs passed for size 8: found by the mutation audit). Sizes with
    a path of the same shape may pass: the signed checkpoint binds the size to the root."""
    checked = 0
    for n in range(1, 20):
        hs = leaves(n)
        r = merkle.root(hs)
        for i in range(n):
            proof = merkle.inclusion_proof(i, hs)
            for size in range(1, 2 * n + 3):
                if size == n:
                    continue
                if i >= size or len(merkle.inclusion_proof(i, leaves(size))) != len(proof):
                    assert not merkle.verify_inclusion(hs[i], i, size, proof, r), (n, i, size)
                    checked += 1
    assert checked > 1000


def test_consistency_every_pair():
    for n in range(1, 20):
        hs = leaves(n)
        for m in range(1, n + 1):
            proof = merkle.consistency_proof(m, hs)
            assert merkle.verify_consistency(m, n, merkle.root(hs[:m]), merkle.root(hs), proof)
            forked = merkle.root(leaves(m - 1) + [merkle.leaf_hash(b"fork")])
            if m < n or forked != merkle.root(hs[:m]):
                assert not merkle.verify_consistency(m, n, forked, merkle.root(hs), proof)
            # a proof of another length than the sizes' own fails; for equal sizes it is empty
            for other in range(m, 2 * n + 3):
                if other != n and len(merkle.consistency_proof(m, leaves(other))) != len(proof):
                    assert not merkle.verify_consistency(
                        m, other, merkle.root(hs[:m]), merkle.root(hs), proof
                    ), (m, n, other)
            if m == n:
                extra = [merkle.leaf_hash(b"extra")]
                assert not merkle.verify_consistency(m, n, merkle.root(hs), merkle.root(hs), extra)


def test_frontier_appends():
    f = merkle.Frontier()
    hs = leaves(33)
    for i, h in enumerate(hs):
        f.append(h)
        assert f.root() == naive_root(hs[: i + 1])
    g = f.copy()
    g.append(merkle.leaf_hash(b"x"))
    assert f.size == 33 and g.size == 34
