"""`membank add | search | import`: use a running server over HTTP (MEMBANK_API_URL, MEMBANK_API_KEY)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import orjson

from membank.client import Job, MemBank
from membank.config import Settings


def _client() -> MemBank:
    settings = Settings()
    key = settings.api_key.get_secret_value() if settings.api_key else None
    try:
        return MemBank(settings.api_url, api_key=key)
    except ValueError as exc:
        raise click.ClickException(
            f"MEMBANK_API_URL is not a usable http(s) URL ({exc}); "
            "fix: set it like MEMBANK_API_URL=http://127.0.0.1:8080"
        ) from None


def _emit(value: Any) -> None:
    click.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


@click.command()
@click.option("--user", "user_id", required=True, help="Whose memory.")
@click.option("--type", "memory_type", default="factual", show_default=True)
@click.option("--importance", default=5, show_default=True, type=click.IntRange(1, 10))
@click.option("--tag", "tags", multiple=True, help="A tag (repeatable).")
@click.argument("content")
def add(user_id: str, memory_type: str, importance: int, tags: tuple[str, ...], content: str) -> None:
    """Store one memory."""
    with _client() as client:
        created = client.memories.create(
            user_id, content, memory_type=memory_type, importance=importance, tags=list(tags)
        )
        _emit(created.model_dump(mode="json"))


@click.command()
@click.option("--user", "user_id", required=True, help="Whose memories.")
@click.option("--limit", default=5, show_default=True, type=click.IntRange(1, 100))
@click.option("--explain", is_flag=True, help="Show each score component.")
@click.argument("query")
def search(user_id: str, limit: int, explain: bool, query: str) -> None:
    """Search a user's memories."""
    with _client() as client:
        for hit in client.memories.search(user_id, query, limit=limit, explain=explain).memories:
            click.echo(f"{hit.score:.3f}  {hit.id}  {hit.content}")
            if explain:
                click.echo(f"       {orjson.dumps(hit.score_details).decode()}")


@click.command("import")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--skip-duplicates", is_flag=True, help="Skip memories whose content the user already has.")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_file(path: Path, batch_size: int, skip_duplicates: bool) -> None:
    """Import a JSONL file of memories (one JSON object per line) as batch jobs."""
    batch: list[dict[str, Any]] = []
    created = skipped = 0
    with _client() as client:

        def flush() -> None:
            nonlocal created, skipped
            accepted = client.memories.batch(batch, skip_duplicates=skip_duplicates)
            assert isinstance(accepted, Job)  # a batch of memories is one job (conversations are a batch)
            job = client.jobs.wait_for(accepted.id, poll=0.2)
            if job.status != "completed" or job.result is None:
                raise click.ClickException(f"job {job.id} ended {job.status}: {job.error}")
            created += job.result["created"]
            skipped += job.result["skipped"]
            batch.clear()

        with path.open("rb") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    batch.append(orjson.loads(line))
                except orjson.JSONDecodeError as exc:
                    raise click.ClickException(
                        f"{path}:{number}: invalid JSON ({exc}); fix: one JSON object per line"
                    ) from None
                if len(batch) >= batch_size:
                    flush()
        if batch:
            flush()
    click.echo(f"imported {created} memories, skipped {skipped}")
