"""The public form of a job: memory text only with memories:read, a bounded number of actions inline."""

from __future__ import annotations

from membank.jobs.service import INLINE_ACTIONS, job_out
from membank.models import Job, JobStatus, now_utc


def _job(**fields: object) -> Job:
    now = now_utc()
    values: dict[str, object] = {
        "id": "j1",
        "tenant_id": "t",
        "kind": "process_conversation",
        "status": JobStatus.COMPLETED,
        "payload": {},
        "created_at": now,
        "updated_at": now,
        "run_after": now,
        **fields,
    }
    return Job(**values)  # type: ignore[arg-type]


def test_a_long_action_list_is_cut_inline_and_points_to_the_items() -> None:
    actions = [{"event": "ADD", "memory_id": str(i), "old": None, "new": f"fact {i}"} for i in range(250)]
    out = job_out(_job(result={"counts": {"ADD": 250}, "actions": actions}), content=True)
    assert len(out["result"]["actions"]) == INLINE_ACTIONS and out["result"]["actions_truncated"] is True
    assert (
        out["result"]["actions"][0]["new"] == "fact 0" and out["result"]["items"] == "/api/v1/jobs/j1/items"
    )
    assert out["result"]["counts"] == {"ADD": 250}


def test_without_memories_read_text_and_error_detail_are_withheld() -> None:
    job = _job(
        status=JobStatus.DEAD,
        result={"counts": {"ADD": 1}, "actions": [{"new": "User lives in Paris"}], "per_message": ["Paris"]},
        error="KeyError: 'yesterday night'",
    )
    out = job_out(job, content=False)
    assert out["result"] == {"counts": {"ADD": 1}}
    assert out["error"] == "KeyError" and "yesterday" not in str(out)
    assert out["withheld"] == ["result.actions", "result.per_message", "error"]
    full = job_out(job, content=True)
    assert full["error"] == "KeyError: 'yesterday night'" and full["withheld"] == []
