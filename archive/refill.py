"""Derived tables recomputed from every claim, for the migrations that change how they are made
(archive/schema.py): written in key order, which SQLite's B-trees take far faster than the
claims' order."""

from __future__ import annotations


def claim_batches(conn, size: int = 2000):
    """Every claim's (id, text), in batches of ``size``."""
    rows = conn.execute("SELECT id, text FROM claims ORDER BY rowid")
    while batch := rows.fetchmany(size):
        yield batch


def fill_in_key_order(conn, tables: dict[str, list[str]], batches) -> None:
    """Insert the rows of ``batches`` (each a dict: table -> rows of its ``tables`` columns) into
    their tables in key order, through a temporary table each: SQLite sorts on disk, and each
    index is then built front to back instead of at random places (a million-claim archive's
    20 million band rows took minutes the other way). Several tables fill in one pass over the
    claims."""
    for table, columns in tables.items():
        conn.execute(f"CREATE TEMP TABLE fill_{table} ({', '.join(columns)})")
    try:
        for batch in batches:
            for table, rows in batch.items():
                marks = ", ".join("?" * len(tables[table]))
                conn.executemany(f"INSERT INTO temp.fill_{table} VALUES ({marks})", rows)
        for table, columns in tables.items():
            cols = ", ".join(columns)
            conn.execute(
                f"INSERT OR IGNORE INTO main.{table} ({cols}) SELECT {cols} FROM temp.fill_{table} "
                f"ORDER BY {cols}"
            )
    finally:
        for table in tables:
            conn.execute(f"DROP TABLE temp.fill_{table}")


#: The derived tables of claims' MinHash: band keys and compact signatures.
MINHASH_TABLES = {
    "claim_bands": ["band_key", "claim_id"],
    "claim_minhash": ["claim_id", "shingles", "signature"],
}


def minhashed(conn, tables: tuple[str, ...]):
    """Batches of ``tables``' rows (of ``MINHASH_TABLES``) for every claim long enough to have
    them, each batch's MinHash computed once."""
    from .similarity import minhash_bands

    for batch in claim_batches(conn):
        hashed = minhash_bands([text for _, text in batch])
        done = [
            (claim_id, keys, size, signature)
            for (claim_id, _), keys, size, signature in zip(
                batch, hashed.keys, hashed.sizes, hashed.signatures, strict=True
            )
            if signature is not None
        ]
        rows = {
            "claim_bands": [(key, claim_id) for claim_id, keys, _, _ in done for key in keys],
            "claim_minhash": [(claim_id, size, sig) for claim_id, _, size, sig in done],
        }
        yield {table: rows[table] for table in tables}
