"""MEMBANK_VECTOR_INDEX: pgvector lives in the PostgreSQL system of record, so it is refused without it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from membank.config import Settings

URL = "postgresql://membank:secret-pw-41@db.example:5432/membank"


def test_pgvector_is_refused_on_sqlite_with_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(data_dir=tmp_path, vector_index="pgvector")
    assert "MEMBANK_VECTOR_INDEX=pgvector" in str(caught.value)
    assert "MEMBANK_STORE=postgres" in str(caught.value)


def test_pgvector_on_postgres(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, vector_index="pgvector", store="postgres", database_url=URL)
    assert settings.vector_index == "pgvector"
    assert Settings(data_dir=tmp_path).vector_index == "qdrant-edge"


def test_unknown_index_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        Settings(data_dir=tmp_path, vector_index="faiss")
