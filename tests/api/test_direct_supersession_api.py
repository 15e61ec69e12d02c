"""Supersession works for direct creates too (issue 7): a `POST /api/v1/memories` whose content fills a known
slot, or that names `slot`, supersedes the slot's old value like consolidation does; `slot: null` opts out.
The README's own example ends with one current home."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.api.conftest import Api
from tests.api.test_conversations_api import current, events

README = Path(__file__).parents[2] / "README.md"


def memory(api: Api, memory_id: str) -> dict[str, Any]:
    data: dict[str, Any] = api.call("GET", f"/api/v1/memories/{memory_id}").json()["data"]
    return data


def readme_requests() -> list[tuple[str, dict[str, Any]]]:
    """The README's curl requests that write memories: (path, JSON body), in the README's order."""
    found = []
    for command in README.read_text().split("curl -s ")[1:]:
        url = re.match(r"'?localhost:8080(?P<path>[^ ?']+)", command)
        body = re.search(r"-d '(?P<json>\{.*?\})'", command, re.DOTALL)
        assert url is not None and body is not None, command
        if url["path"] in ("/api/v1/memories", "/api/v1/memories/process-conversation"):
            found.append((url["path"], json.loads(body["json"])))
    return found


def test_the_readme_example_leaves_one_current_home(api: Api) -> None:
    requests = readme_requests()
    assert [path for path, _ in requests] == ["/api/v1/memories", "/api/v1/memories/process-conversation"]
    (_, create), (_, conversation) = requests
    created = api.call("POST", "/api/v1/memories", json=create)
    assert created.status_code == 201, created.text
    berlin = created.json()["data"]
    assert berlin["slot"] == "alice/residence"
    response = api.call("POST", "/api/v1/memories/process-conversation?wait=true", json=conversation)
    result = response.json()["data"]["result"]
    assert events(result) == ["UPDATE"], result["actions"]
    (home,) = current(api, "alice")
    assert home.startswith("User moved to Lisbon")
    old = memory(api, berlin["id"])
    assert old["valid_to"] is not None and old["superseded_by"] == result["actions"][0]["memory_id"]
    assert old["content"] == "Alice moved to Berlin in 2021"  # the old version keeps its text
    hits = api.search("where does alice live?", user_id="alice").json()["data"]["memories"]
    assert [h["content"] for h in hits] == [home]


def test_a_direct_create_of_a_known_slot_supersedes_its_old_value(api: Api) -> None:
    paris = api.add("I live in Paris.", user_id="alice")
    assert paris["slot"] == "user/residence" and paris["supersedes"] is None
    berlin = api.add("Alice moved to Berlin in 2021", user_id="alice", memory_type="personal", tags=["home"])
    assert berlin["supersedes"] == paris["id"]
    assert berlin["slot"] == "alice/residence" and berlin["tags"] == ["home"]
    old = memory(api, paris["id"])
    assert old["content"] == "I live in Paris." and old["superseded_by"] == berlin["id"]
    assert old["valid_to"] is not None
    assert current(api, "alice") == ["Alice moved to Berlin in 2021"]
    history = api.call("GET", f"/api/v1/memories/{berlin['id']}/history").json()["data"]["history"]
    assert [h["event"] for h in history] == ["CREATE", "SUPERSEDED", "UPDATE"]
    hits = api.search("where does alice live?", user_id="alice").json()["data"]["memories"]
    assert [h["content"] for h in hits] == ["Alice moved to Berlin in 2021"]


def test_other_slots_and_other_people_are_left_alone(api: Api) -> None:
    home = api.add("I live in Paris.")
    job = api.add("I work at Acme.")
    sister = api.add("Caroline lives in Oslo.")
    assert sister["slot"] == "caroline/residence"
    api.add("I work at Globex.")
    assert memory(api, home["id"])["valid_to"] is None
    assert memory(api, sister["id"])["valid_to"] is None
    assert memory(api, job["id"])["superseded_by"] is not None
    assert current(api) == ["Caroline lives in Oslo.", "I live in Paris.", "I work at Globex."]


def test_a_named_slot_supersedes_and_slot_null_opts_out(api: Api) -> None:
    first = api.add("Home: Paris", slot="user/residence")
    second = api.add("Home: Berlin", slot="user/residence")
    assert second["supersedes"] == first["id"]
    kept = api.add("I live in Rome in the summers.", slot=None)
    assert kept["slot"] is None and kept["supersedes"] is None
    assert current(api) == ["Home: Berlin", "I live in Rome in the summers."]


def test_a_value_dated_before_the_current_one_is_stored_as_history(api: Api) -> None:
    now = api.add("I live in Lisbon.", valid_from="2025-06-01T00:00:00Z")
    earlier = api.add("I live in Paris.", valid_from="2019-01-01T00:00:00Z")
    assert earlier["supersedes"] is None and earlier["valid_to"] == now["valid_from"]
    assert memory(api, now["id"])["valid_to"] is None
    assert current(api) == ["I live in Lisbon."]
    past = api.search("where did I live?", as_of="2020-01-01T00:00:00Z").json()["data"]["memories"]
    assert [h["content"] for h in past] == ["I live in Paris."]


def test_a_conversation_then_a_direct_create_of_the_same_slot(api: Api) -> None:
    body = {"user_id": "alice", "user_input": "I moved to Lisbon last week."}
    api.call("POST", "/api/v1/memories/process-conversation?wait=true", json=body)
    created = api.add("Alice lives in Porto now.", user_id="alice")
    assert created["supersedes"] is not None
    assert current(api, "alice") == ["Alice lives in Porto now."]


def test_concurrent_creates_of_one_slot_leave_one_current_value(api: Api) -> None:
    cities = ["Oslo", "Rome", "Lima", "Kyoto", "Porto", "Dublin", "Seoul", "Vienna"]
    with ThreadPoolExecutor(max_workers=8) as pool:
        created = list(pool.map(lambda city: api.add(f"I live in {city}."), cities))
    assert len(current(api)) == 1
    chain = {m["supersedes"] for m in created} - {None}
    assert len(chain) == len(cities) - 1  # each create superseded the one before it, none was lost
