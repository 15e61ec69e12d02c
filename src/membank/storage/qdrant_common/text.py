"""The keyword side of a Qdrant point: BM25 term weights as a sparse vector, one tokenizer for every engine.

`qdrant_edge.Bm25` (lowercase, ASCII folding, English stopwords, Snowball stemming) runs in this process for
Qdrant Edge and for a Qdrant server alike, so both index and query the same terms and no model is fetched.
The engines add the IDF factor at query time (the `IDF` modifier of the sparse vector).
"""

from __future__ import annotations

import qdrant_edge as q

__all__ = ["BM25_AVG_LEN", "bm25_config", "bm25_tokenizer"]

# BM25 length normalisation is against a fixed average document length (in tokens after stopwords): memories
# are short facts. Changing it re-weights only documents written afterwards (`membank reindex` redoes all).
BM25_AVG_LEN = 12.0


def bm25_config() -> q.Bm25Config:
    return q.Bm25Config(language="english", lowercase=True, ascii_folding=True, avg_len=BM25_AVG_LEN)


def bm25_tokenizer() -> q.Bm25:
    """Turns a text into its sparse vector: `embed_document` for points, `embed_query` for searches."""
    return q.Bm25(bm25_config())
