"""Hybrid search over the API: ranking, scores, explain, filters."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from membank.config import Settings
from tests.api.conftest import Api, open_api


def _seed(api: Api) -> dict[str, str]:
    ids = {}
    for key, content, fields in [
        (
            "coffee",
            "User drinks black coffee every morning",
            {"memory_type": "preference", "tags": ["food"], "metadata": {"project": "apollo", "rank": 3}},
        ),
        (
            "berlin",
            "User moved to Berlin in 2021",
            {"memory_type": "personal", "importance": 9, "metadata": {"project": "zeus", "rank": 1}},
        ),
        (
            "python",
            "User writes Python at work",
            {
                "memory_type": "factual",
                "tags": ["work", "code"],
                "metadata": {"project": "apollo", "rank": 2.5},
            },
        ),
        ("dog", "User has a golden retriever named Max", {"memory_type": "personal", "entities": ["Max"]}),
    ]:
        ids[key] = api.add(content, **fields)["id"]
    return ids


def test_most_relevant_memory_ranks_first_with_scores_in_unit_interval(api: Api) -> None:
    ids = _seed(api)
    hits = api.search("what does the user drink in the morning?").json()["data"]["memories"]
    assert hits[0]["id"] == ids["coffee"]
    scores = [h["score"] for h in hits]
    assert all(0.0 <= s <= 1.0 for s in scores) and scores == sorted(scores, reverse=True)


def test_explain_returns_each_component(api: Api) -> None:
    _seed(api)
    hits = api.search("golden retriever Max", explain=True).json()["data"]["memories"]
    details = hits[0]["score_details"]
    assert details["fusion"] == "adaptive"
    assert details["dense_rank"] == 1 and details["keyword_rank"] == 1
    # First in both lists: each list gives its whole share (0.6 / 0.4 scaled by the list's lead on this
    # query, as explained), so relevance is 1.
    shares = details["weights"]
    assert 0 < shares["dense"] <= 0.6 and 0 < shares["keyword"] <= 0.4
    total = shares["dense"] + shares["keyword"]
    assert details["dense_contribution"] == pytest.approx(shares["dense"] / total, abs=1e-5)
    assert details["keyword_contribution"] == pytest.approx(shares["keyword"] / total, abs=1e-5)
    assert details["relevance"] == 1.0
    for key in ("dense_similarity", "keyword_score", "recency", "importance", "final"):
        assert key in details
    assert details["final"] == hits[0]["score"]
    for hit in hits[1:]:
        d = hit["score_details"]
        assert d["dense_contribution"] + d["keyword_contribution"] == pytest.approx(d["relevance"], abs=1e-5)
        assert d["relevance"] < 1.0


def test_rrf_fusion_is_a_setting(make_settings: Callable[..., Settings]) -> None:
    with open_api(make_settings(search_fusion="rrf", rrf_k=10)) as api:
        _seed(api)
        hit = api.search("golden retriever Max", explain=True).json()["data"]["memories"][0]
    assert hit["score_details"]["fusion"] == "rrf"
    assert hit["score_details"]["relevance"] == 1.0


def test_threshold_and_limit(api: Api) -> None:
    _seed(api)
    assert len(api.search("user", limit=2).json()["data"]["memories"]) == 2
    all_hits = api.search("user", limit=10).json()["data"]["memories"]
    cut = all_hits[1]["score"]
    kept = api.search("user", limit=10, threshold=cut).json()["data"]["memories"]
    assert kept and all(h["score"] >= cut for h in kept) and len(kept) < len(all_hits)


def test_shorthand_filters(api: Api) -> None:
    ids = _seed(api)
    typed = api.search("user", memory_types=["personal"]).json()["data"]["memories"]
    assert {h["id"] for h in typed} == {ids["berlin"], ids["dog"]}
    tagged = api.search("user", tags=["work"]).json()["data"]["memories"]
    assert [h["id"] for h in tagged] == [ids["python"]]
    important = api.search("user", min_importance=8).json()["data"]["memories"]
    assert [h["id"] for h in important] == [ids["berlin"]]
    entity = api.search("user", entities=["Max"]).json()["data"]["memories"]
    assert [h["id"] for h in entity] == [ids["dog"]]


def test_filter_language_with_metadata_and_logic(api: Api) -> None:
    ids = _seed(api)
    apollo = {"field": "metadata.project", "op": "eq", "value": "apollo"}
    hits = api.search("user", filters=apollo).json()["data"]["memories"]
    assert {h["id"] for h in hits} == {ids["coffee"], ids["python"]}
    combined = {"AND": [apollo, {"NOT": {"field": "metadata.rank", "op": "gt", "value": 2.75}}]}
    assert [h["id"] for h in api.search("user", filters=combined).json()["data"]["memories"]] == [
        ids["python"]
    ]
    either = {
        "OR": [
            {"field": "metadata.rank", "op": "lte", "value": 1},
            {"field": "tags", "op": "contains", "value": "foo"},
        ]
    }
    assert {h["id"] for h in api.search("user", filters=either).json()["data"]["memories"]} == {
        ids["berlin"],
        ids["coffee"],
    }


def test_search_is_scoped_to_the_user(api: Api) -> None:
    api.add("User loves sailing", user_id="sailor")
    assert api.search("sailing").json()["data"]["memories"] == []
    assert len(api.search("sailing", user_id="sailor").json()["data"]["memories"]) == 1
