"""Varied, realistic memory texts and questions generated from templates and word lists.

Every generator is seeded, so runs are repeatable. The combinations run into the billions, so queries drawn
with `distinct=True` never repeat (the server caches query embeddings; repeated queries would measure the
cache, not the model).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from typing import Any


def _words(text: str, sep: str = "|") -> tuple[str, ...]:
    return tuple(text.split(sep))


NAMES = _words(
    "Alice Bob Carmen Dmitri Elena Farid Grace Hiroshi Ines Jonas Keiko Liam Maya Noor Oscar Priya Quentin "
    "Rosa Samir Tara Umar Vera Wen Ximena Yusuf Zoe Amara Bruno Chloe Diego Esther Felix Greta Hamid Ida "
    "Jamal Kira Lucas Mina Nikolai Olga Pablo Rania Stefan Tomas Ulla Valentin Wanda Yara Zain",
    " ",
)
FOODS = _words(
    "ramen|sushi|tacos al pastor|lentil soup|margherita pizza|pad thai|falafel wraps|mushroom risotto|"
    "chicken tikka masala|Greek salad|pho|pierogi|shakshuka|bibimbap|fish and chips|paella|dumplings|"
    "black bean burgers|pasta carbonara|avocado toast|banana pancakes|beef stew|tofu stir-fry|ceviche|"
    "goulash|poke bowls|eggplant parmesan|jollof rice|croissants|oatmeal with berries"
)
DRINKS = _words(
    "oat milk lattes|green tea|espresso|sparkling water|chai|cold brew|hot chocolate|kombucha|"
    "red wine|craft beer|matcha|ginger tea|orange juice|decaf coffee"
)
CITIES = _words(
    "Lisbon|Kyoto|Montreal|Nairobi|Oslo|Buenos Aires|Hanoi|Edinburgh|Marrakesh|Seoul|Vancouver|Prague|"
    "Cape Town|Reykjavik|Melbourne|Istanbul|Mexico City|Copenhagen|Lima|Tbilisi|Seville|Bangkok|Dublin|"
    "Helsinki|Valparaiso|Krakow|Porto|Zanzibar|Chicago|Singapore|Vienna|Cusco|Bergen|Florence|Austin"
)
JOBS = _words(
    "a nurse|a software engineer|a high school teacher|an architect|a chef|a data analyst|a veterinarian|a lawyer|"
    "a graphic designer|an electrician|a pharmacist|a journalist|a product manager|a physiotherapist|an accountant|"
    "a marine biologist|a firefighter|a librarian|a pilot|a social worker|a carpenter|a dentist|a translator|a UX researcher"
)
HOBBIES = _words(
    "rock climbing|watercolor painting|bouldering|sourdough baking|birdwatching|salsa dancing|chess|"
    "pottery|trail running|knitting|photography|gardening|woodworking|surfing|board games|calligraphy|"
    "sailing|cycling|yoga|film photography|beekeeping|kayaking|origami|stand-up comedy|volunteering at the "
    "animal shelter|playing in a jazz band|writing short stories|restoring old bikes"
)
INSTRUMENTS = _words("piano|guitar|cello|violin|drums|saxophone|ukulele|trumpet|flute|bass guitar")
RELATIONS = _words(
    "sister|brother|mother|father|best friend|partner|cousin|neighbor|manager|roommate|daughter|son|"
    "grandmother|colleague|mentor"
)
PETS = _words("dog|cat|parrot|rabbit|tortoise|hamster|golden retriever|border collie|tabby cat|goldfish")
PET_NAMES = _words(
    "Biscuit Luna Pepper Max Mochi Rocky Nala Ziggy Olive Bruno Clover Pixel Maple Waffles", " "
)
ALLERGENS = _words("peanuts|shellfish|gluten|lactose|pollen|cats|penicillin|tree nuts|soy|bee stings")
TOOLS = _words(
    "Python|Rust|TypeScript|Figma|Excel|Notion|Kubernetes|PostgreSQL|Go|Blender|Tableau|Jira|Obsidian|"
    "VS Code|Terraform|React"
)
PROJECTS = _words(
    "the billing migration|the mobile app redesign|the quarterly report|the data warehouse|the onboarding "
    "flow|the conference talk|the grant proposal|the kitchen renovation|the wedding planning|the marathon "
    "training plan|the thesis draft|the product launch|the garden shed|the community fundraiser"
)
BOOKS = _words(
    "science fiction|historical novels|mystery thrillers|poetry|biographies|fantasy sagas|graphic novels|"
    "travel memoirs|philosophy|cookbooks|true crime|classic Russian literature"
)
SPORTS = _words("tennis|basketball|soccer|swimming|badminton|volleyball|table tennis|golf|ice hockey|rugby")
FEELINGS = _words(
    "excited|nervous|exhausted|proud|relieved|frustrated|grateful|anxious|overjoyed|a bit lonely|motivated|"
    "calm"
)
MONTHS = _words("January February March April May June July August September October November December", " ")
WEEKDAYS = _words("Monday Tuesday Wednesday Thursday Friday Saturday Sunday", " ")
COLORS = _words("teal|mustard yellow|navy blue|forest green|burgundy|lavender|charcoal grey|coral")
SHOWS = _words(
    "Severance|The Bear|Planet Earth|Succession|Great British Bake Off|Arcane|Dark|The Office|Shogun|"
    "Ted Lasso|Blue Planet|Only Murders in the Building"
)
REASONS = _words(
    "it helps them unwind|a friend recommended it|it reminds them of childhood|their doctor suggested it|"
    "it fits their budget|they want to save time|they had a great experience last year|it is close to home"
)
TIMES = _words("7 am|8:30 am|noon|2 pm|3:15 pm|5 pm|6:45 pm|9 pm")

MEMORY_TEMPLATES = (
    "{name} loves {food} and usually orders it on {weekday}s.",
    "{name} prefers {drink} in the morning because {reason}.",
    "{name} is planning a trip to {city} in {month} hoping to fit in some {hobby}.",
    "{name}'s {relation} works as {job} in {city}.",
    "{name} has been learning to play the {instrument} for {number} months.",
    "{name} is allergic to {allergen} and always checks menus carefully.",
    "{name} adopted a {pet} named {pet_name} last {month}.",
    "{name} uses {tool} every day for {project}.",
    "Last {weekday}, {name} tried {hobby} with their {relation} and felt {feeling}.",
    "{name} works as {job} and is currently busy with {project}.",
    "{name} enjoys reading {book} before going to sleep.",
    "{name} plays {sport} with coworkers every {weekday} at {time}.",
    "{name} is {feeling} about {project}, which is due at the end of {month}.",
    "{name}'s favorite color is {color}; they repainted the living room in it.",
    "{name} grew up in {city} and moved away when they were {number}.",
    "{name} is binge-watching {show} and recommends it to everyone.",
    "The weekly call about {project} moved to {weekday} at {time} at {name}'s request.",
    "{name} wants to avoid {food} for a while because {reason}.",
    "{name}'s {relation} is visiting from {city} in {month}.",
    "{name} started {hobby} in {month} and goes {number} times a month.",
    "{name} said they feel {feeling} after finishing {project}.",
    "{name} keeps a reminder to call their {relation} every {weekday} evening.",
    "{name} would like a birthday gift related to {hobby}, maybe something {color}.",
    "{name} switched from {tool} to {tool2} for {project} last {month}.",
)

QUERY_TEMPLATES = (
    "What food does {name} like?",
    "What does {name} drink in the morning?",
    "Where is {name} travelling in {month}?",
    "What does {name}'s {relation} do for work?",
    "Which instrument is {name} learning?",
    "Is {name} allergic to anything?",
    "What is the name of {name}'s {pet}?",
    "Which tools does {name} use for {project}?",
    "What did {name} do last {weekday}?",
    "What is {name}'s job?",
    "What kind of books does {name} read?",
    "When does {name} play {sport}?",
    "How does {name} feel about {project}?",
    "What is {name}'s favorite color?",
    "Where did {name} grow up?",
    "Which TV show is {name} watching right now?",
    "When is the meeting about {project}?",
    "Who is visiting {name} from {city}?",
    "How often does {name} do {hobby}?",
    "What gift would {name} like for their birthday?",
    "does {name} like {food} or {food2}",
    "{name} {hobby} plans {month}",
    "who in {name}'s family lives in {city}",
    "recommendations for {name} about {book}",
)

_SLOT = re.compile(r"\{(\w+)\}")


def _fill(template: str, rng: random.Random, name: str) -> str:
    def pick(match: re.Match[str]) -> str:
        slot = match.group(1)
        if slot == "name":
            return name
        if slot == "number":
            return str(rng.randint(2, 30))
        source = _SOURCES[slot.rstrip("2")]
        return rng.choice(source)

    return _SLOT.sub(pick, template)


_SOURCES: dict[str, tuple[str, ...] | list[str]] = {
    "food": FOODS,
    "drink": DRINKS,
    "city": CITIES,
    "job": JOBS,
    "hobby": HOBBIES,
    "instrument": INSTRUMENTS,
    "relation": RELATIONS,
    "pet": PETS,
    "pet_name": PET_NAMES,
    "allergen": ALLERGENS,
    "tool": TOOLS,
    "project": PROJECTS,
    "book": BOOKS,
    "sport": SPORTS,
    "feeling": FEELINGS,
    "month": MONTHS,
    "weekday": WEEKDAYS,
    "color": COLORS,
    "show": SHOWS,
    "reason": REASONS,
    "time": TIMES,
}

MEMORY_TYPES = ("personal", "preference", "factual", "episodic", "relationship", "event")


def user_ids(count: int) -> list[str]:
    """Stable user ids `bench-user-000`...; each user is about one person (a name from the list)."""
    return [f"bench-user-{i:03d}" for i in range(count)]


def person_of(user_id: str) -> str:
    """The name a user's memories are about."""
    index = int(user_id.rsplit("-", 1)[-1])
    return NAMES[index % len(NAMES)]


class TextGen:
    """Seeded generator of memory contents and queries."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)

    def memory(self, user_id: str) -> str:
        return _fill(self.rng.choice(MEMORY_TEMPLATES), self.rng, person_of(user_id))

    def query(self, user_id: str) -> str:
        return _fill(self.rng.choice(QUERY_TEMPLATES), self.rng, person_of(user_id))

    def memory_body(self, user_id: str) -> dict[str, Any]:
        """A request body for `POST /api/v1/memories` (also an item of a batch)."""
        return {
            "user_id": user_id,
            "content": self.memory(user_id),
            "memory_type": self.rng.choice(MEMORY_TYPES),
            "importance": self.rng.randint(1, 10),
            "tags": self.rng.sample(("home", "work", "health", "travel", "family", "food", "fun"), 2),
        }

    def queries(self, users: list[str], count: int, *, distinct: bool) -> Iterator[tuple[str, str]]:
        """(user_id, query) pairs; with `distinct`, no query text repeats."""
        seen: set[str] = set()
        produced = 0
        attempts = 0
        while produced < count:
            user = self.rng.choice(users)
            text = self.query(user)
            attempts += 1
            if distinct and text in seen:
                if attempts > count * 50:
                    raise RuntimeError("cannot generate that many distinct queries")
                continue
            seen.add(text)
            produced += 1
            yield user, text
