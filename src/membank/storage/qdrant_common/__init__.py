"""What the Qdrant adapters share: the point layout (`payload`), the filter compiler (`filters`), the BM25
tokenizer (`text`) and hit reading (`points`). Qdrant Edge and a Qdrant server run the same engine, so a
memory is stored and filtered the same way on both."""
