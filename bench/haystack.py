"""A synthetic long-haystack corpus: personal facts said in passing among long assistant answers.

LOCOMO is the only public conversation set on this machine (nothing can be downloaded), and a constant chosen on
it must hold on a second data set (project rule), so this module builds one, deterministically from a seed,
in LOCOMO's shape (bench/locomo.py reads it like locomo10.json: `conversation` with `session_<n>`,
`session_<n>_date_time` and turns with `speaker`, `dia_id` "D<session>:<turn>", `text`; `qa` with `question`,
`answer`, `evidence`, `category`), so every mode and leg of bench/long_memory.py runs on it unchanged.

Design, per synthetic user (USERS of them, each with its own random stream of `random.Random(seed, user)`):

- 20-40 sessions a few days apart. Each has 1-3 exchanges where the user asks the assistant about a Python
  topic ("Could you walk me through the for statement?") and the assistant answers with a window of 200-450
  words of CPython's own help text for it (`pydoc_data.topics.topics`, shipped with the interpreter: real,
  long, technical English). These answers are the haystack: several hundred tokens each, most of a session.
- 10-14 personal facts per user, drawn without repetition from FACTS (66 kinds: a city moved to, a pet's
  name, an employer, an allergy, a partner's name, ...). Each is one short user turn, said in passing at a
  random place in a random session, followed by a short generic acknowledgement of the assistant that repeats
  none of its words. A kind has 2-3 phrasings of the statement; the value (Porto, Biscuit, ...) is drawn
  from its list.
- About a third of the facts whose kind can change (a town, an employer, a car, ...) are updated in a later
  session with a different value and an update phrasing ("Change of plans: we ended up in Lyon after all").
- Questions, all of them built from the facts, never from the haystack:
  - "single fact" (category 4): one per fact never updated; evidence the turn that states it.
  - "updated fact" (category 5): one per updated fact, asking for the current value; evidence the latest
    statement only (the earlier one is a wrong answer that a search should rank lower, but it is not
    penalised beyond taking a place in the top k).
  - "two facts" (category 1): 3 per user, asking for two facts stated in different sessions in one question
    ("What are the user's dog's name and employer?"); evidence both turns, so recall@k needs both sessions.
  Each question paraphrases the fact: it names the kind with other words than the statements use where a
  kind allows it ("Which town does the user live in now?" for "I finally moved to Porto last spring"), and
  never contains the value.

Limits, honestly: it is synthetic. The paraphrase is template-based (one question template per kind, a few
statement templates), so a system could learn the templates; the facts are unrelated to the haystack, which
makes them easier to tell apart than in a real chat (a fact about a dog among answers on slicing), while the
question and the haystack share no subject at all; "two facts" questions are conjunctions, not compositional
reasoning; there is no temporal question. What it does test well: a short fact buried in a memory of
hundreds of unrelated tokens (session and mixed modes), where a dense model that truncates at 256 tokens
cannot see a fact stated late in the memory and BM25 length normalisation punishes long memories.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from pydoc_data.topics import topics
from typing import Any

SEED = 14
USERS = 10
CATEGORIES = {1: "two facts", 4: "single fact", 5: "updated fact"}
ASSISTANT = "Assistant"
NAMES = (
    "Maya",
    "Jonas",
    "Aiko",
    "Tomasz",
    "Lucia",
    "Kwame",
    "Ines",
    "Ravi",
    "Freya",
    "Mateo",
    "Noor",
    "Elias",
)


@dataclass(frozen=True)
class Fact:
    kind: str
    about: str  # the fact as a noun phrase of a "two facts" question, in other words than the statements
    question: str  # asks for the current value, paraphrasing the statements
    values: tuple[str, ...]
    statements: tuple[str, ...]  # "{v}" is the value
    updates: tuple[str, ...] = ()  # phrasings of a later change; empty: the kind is not updated


FACTS: tuple[Fact, ...] = (
    Fact(
        "city",
        "home town",
        "Which town does the user live in now?",
        ("Porto", "Lyon", "Tallinn", "Ghent", "Bergen", "Trieste", "Kraków", "Valencia"),
        ("I finally moved to {v} last spring.", "We relocated to {v}, still unpacking boxes."),
        ("Change of plans: we ended up in {v} after all.", "Packed up again, and now we're settled in {v}."),
    ),
    Fact(
        "dog",
        "dog's name",
        "What is the name of the user's dog?",
        ("Biscuit", "Pepper", "Juno", "Waffles", "Ziggy", "Maple"),
        ("We adopted a puppy and named her {v}.", "Our new pup is called {v}, she chews everything."),
    ),
    Fact(
        "cat",
        "cat's name",
        "What is the user's feline called?",
        ("Miso", "Clementine", "Tofu", "Pixel", "Saffron", "Noodle"),
        ("The kitten we took in is named {v}.", "{v}, our rescue kitten, slept on my keyboard again."),
    ),
    Fact(
        "employer",
        "employer",
        "Which company does the user work for at the moment?",
        ("Northwind", "Globex", "Initech", "Umbrella Labs", "Stark Analytics", "Hooli"),
        ("I started a job at {v} this week.", "Got the offer from {v} and signed it yesterday."),
        ("I left my old job and joined {v} on Monday.", "New chapter: I'm now with {v}."),
    ),
    Fact(
        "job-title",
        "role at work",
        "What position does the user hold?",
        ("data engineer", "product designer", "QA lead", "site reliability engineer", "technical writer"),
        ("My new title is {v}.", "They hired me as a {v}."),
        ("I got promoted, I'm a {v} now.", "Switched teams and became a {v}."),
    ),
    Fact(
        "allergy",
        "allergy",
        "What food must the user avoid for medical reasons?",
        ("peanuts", "shellfish", "sesame", "gluten", "kiwi", "lactose"),
        ("I'm allergic to {v}, learned that the hard way.", "Turns out {v} make my throat swell up."),
    ),
    Fact(
        "partner",
        "partner's name",
        "What is the name of the person the user is in a relationship with?",
        ("Daniel", "Sofia", "Priya", "Marco", "Hannah", "Yusuf"),
        ("My girlfriend {v} is visiting this weekend.", "{v} and I just celebrated our anniversary."),
        ("{v} and I started dating a while ago, it's serious now.",),
    ),
    Fact(
        "hobby",
        "weekend pastime",
        "What does the user like to do in their free time?",
        ("bouldering", "pottery", "birdwatching", "salsa dancing", "woodworking", "sailing"),
        ("I've gotten really into {v} lately.", "Spent all Saturday doing {v} again."),
        ("Gave up my old pastime; these days it's all {v}.",),
    ),
    Fact(
        "instrument",
        "musical instrument",
        "Which instrument is the user learning to play?",
        ("cello", "ukulele", "trumpet", "harp", "banjo", "accordion"),
        ("I bought a {v} and I'm taking lessons.", "My neighbours hear me practising the {v} every night."),
    ),
    Fact(
        "car",
        "vehicle",
        "What does the user drive?",
        ("Volvo V60", "Toyota Prius", "Škoda Octavia", "Mini Cooper", "Subaru Outback"),
        ("We finally bought a car, a {v}.", "Picked up our {v} from the dealer today."),
        ("Sold the old car and got a {v} instead.",),
    ),
    Fact(
        "sibling",
        "sister's name",
        "What is the name of the user's sister?",
        ("Greta", "Leila", "Olga", "Beatriz", "Signe"),
        ("My sister {v} is getting married in June.", "{v}, my younger sister, just started university."),
    ),
    Fact(
        "brother",
        "brother's name",
        "How is the user's brother called?",
        ("Pavel", "Omar", "Luca", "Henrik", "Diego"),
        ("My brother {v} lent me his tent.", "I'm helping my brother {v} move flats."),
    ),
    Fact(
        "diet",
        "way of eating",
        "Which eating regime does the user follow?",
        ("vegetarian", "vegan", "pescatarian", "keto"),
        ("I went {v} at the start of the year.", "I've been eating {v} for three months now."),
        ("Dropped my old diet; I'm {v} now.",),
    ),
    Fact(
        "birthday",
        "birth month",
        "In which month does the user celebrate getting older?",
        ("March", "July", "October", "December", "April"),
        ("My birthday is in {v}.", "I turn thirty this {v}."),
    ),
    Fact(
        "coffee",
        "usual hot drink order",
        "What does the user order at the café?",
        ("flat white", "oat latte", "double espresso", "cortado", "chai latte"),
        ("I always get a {v} before work.", "My barista starts a {v} when I walk in."),
    ),
    Fact(
        "language",
        "language being studied",
        "Which foreign tongue is the user studying?",
        ("Japanese", "Portuguese", "Finnish", "Korean", "Swahili", "Greek"),
        ("I signed up for {v} classes.", "Practising my {v} vocabulary on the tram every day."),
    ),
    Fact(
        "sport-team",
        "favourite club",
        "Which side does the user cheer for?",
        ("Celtic", "Ajax", "Benfica", "Napoli", "Boca Juniors"),
        ("I've supported {v} since I was a kid.", "Watched {v} win at the stadium last night."),
    ),
    Fact(
        "gym",
        "training routine",
        "How does the user keep fit?",
        ("running before sunrise", "swimming laps", "cycling to work", "yoga three times a week"),
        ("These days I keep in shape by {v}.", "My routine now is {v}."),
        ("Switched up my routine, now it's {v}.",),
    ),
    Fact(
        "phone",
        "handset",
        "Which mobile device does the user carry?",
        ("Pixel 8", "iPhone 15", "Fairphone 5", "Galaxy S23"),
        ("I upgraded to a {v}.", "My {v} arrived this morning."),
        ("Dropped my phone in the lake, so I replaced it with a {v}.",),
    ),
    Fact(
        "book",
        "current read",
        "What novel is the user in the middle of?",
        ("Middlemarch", "The Left Hand of Darkness", "Piranesi", "Stoner", "Beloved"),
        ("I'm halfway through {v}.", "Reading {v} before bed every night."),
        ("Finished the last one; now I started {v}.",),
    ),
    Fact(
        "school",
        "alma mater",
        "Where did the user get their degree?",
        ("Uppsala University", "TU Delft", "University of Bologna", "McGill", "ETH Zurich"),
        ("I studied at {v}.", "Back when I was a student at {v} we had a lab like that."),
    ),
    Fact(
        "degree",
        "field of study",
        "What did the user major in?",
        ("chemistry", "linguistics", "economics", "marine biology", "philosophy"),
        ("My degree is in {v}.", "I did my bachelor's in {v}."),
    ),
    Fact(
        "kids",
        "child's name",
        "What is the name of the user's son?",
        ("Felix", "Arlo", "Theo", "Kenji", "Milo"),
        ("My son {v} lost his first tooth.", "{v}, my boy, starts kindergarten next week."),
    ),
    Fact(
        "daughter",
        "daughter's name",
        "How is the user's little girl called?",
        ("Ada", "Nora", "Zoe", "Mila", "Iris"),
        ("My daughter {v} learned to ride a bike.", "{v} drew me a dragon today; she is five."),
    ),
    Fact(
        "commute",
        "way to the office",
        "How does the user get to work?",
        ("by ferry", "on an e-scooter", "by train", "on foot"),
        ("I commute {v} now.", "Getting to the office {v} takes me twenty minutes."),
        ("My commute changed, I go {v} these days.",),
    ),
    Fact(
        "favourite-food",
        "favourite dish",
        "Which meal could the user eat every day?",
        ("ramen", "paella", "pierogi", "shakshuka", "pho"),
        ("Nothing beats a bowl of {v}.", "I could live on {v}."),
    ),
    Fact(
        "plant",
        "houseplant",
        "Which greenery decorates the user's flat?",
        ("monstera", "fiddle-leaf fig", "bonsai juniper", "snake plant"),
        ("I bought a {v} for the living room.", "My {v} got a new leaf!"),
    ),
    Fact(
        "travel",
        "next trip",
        "Where is the user going on holiday?",
        ("Iceland", "Vietnam", "Patagonia", "Morocco", "Japan"),
        ("We booked flights to {v} for August.", "Counting the days until our {v} trip."),
        ("We cancelled the old plan and are heading to {v} instead.",),
    ),
    Fact(
        "neighborhood",
        "district",
        "Which part of town is the user's flat in?",
        ("Kreuzberg", "Le Marais", "Shoreditch", "Trastevere", "Gràcia"),
        ("Our flat is in {v}.", "I love the bakeries in {v}, right by our place."),
    ),
    Fact(
        "manager",
        "boss's name",
        "Who does the user report to?",
        ("Ms. Okafor", "Mr. Lindqvist", "Dr. Haddad", "Ms. Moreau"),
        ("My manager is {v}.", "{v}, my boss, approved my leave."),
        ("Reorg happened; my new manager is {v}.",),
    ),
    Fact(
        "side-project",
        "side project",
        "What is the user building in the evenings?",
        ("a bird-feeder camera", "a budgeting app", "a board game", "a sourdough blog"),
        ("In the evenings I'm working on {v}.", "My side project is {v}."),
    ),
    Fact(
        "band",
        "favourite band",
        "Which group does the user listen to most?",
        ("Radiohead", "Khruangbin", "ABBA", "Fleetwood Mac", "Daft Punk"),
        ("I've had {v} on repeat all week.", "Got tickets to see {v} live!"),
    ),
    Fact(
        "movie",
        "favourite film",
        "What picture has the user rewatched the most?",
        ("Spirited Away", "Amélie", "Heat", "Paddington 2", "Arrival"),
        ("My comfort movie is {v}.", "I must have seen {v} twenty times."),
    ),
    Fact(
        "injury",
        "injury",
        "What physical problem is the user recovering from?",
        ("a sprained ankle", "a broken wrist", "a torn ligament", "a slipped disc"),
        ("I'm stuck on the couch with {v}.", "The doctor says {v} needs six weeks to heal."),
    ),
    Fact(
        "grandparent",
        "grandmother's home",
        "Where does the user's grandma live?",
        ("Sicily", "Galway", "Odessa", "Hokkaido", "Oaxaca"),
        ("My grandmother lives in {v}.", "Visiting Nana in {v} next month."),
    ),
    Fact(
        "childhood-home",
        "place of growing up",
        "Where did the user spend their early years?",
        ("Aberdeen", "Tampere", "Brno", "Adelaide", "Winnipeg"),
        ("I grew up in {v}.", "Back in {v}, where I was raised, winters were brutal."),
    ),
    Fact(
        "volunteer",
        "volunteering",
        "Where does the user give their time for free?",
        ("the animal shelter", "a food bank", "the public library", "a youth football club"),
        ("I volunteer at {v} on Sundays.", "Did another shift at {v} this weekend."),
    ),
    Fact(
        "apartment",
        "floor of the flat",
        "On which storey does the user live?",
        ("the ground floor", "the fourth floor", "the top floor", "the second floor"),
        ("Our apartment is on {v}.", "Carrying groceries up to {v} is my workout."),
        ("We moved flats; now we're on {v}.",),
    ),
    Fact(
        "wedding",
        "wedding venue",
        "Where is the user tying the knot?",
        ("a vineyard in Tuscany", "a lighthouse in Maine", "a castle in Scotland", "a barn in Vermont"),
        ("We're getting married at {v}.", "The ceremony will be at {v}."),
    ),
    Fact(
        "fear",
        "phobia",
        "What is the user scared of?",
        ("spiders", "heights", "deep water", "thunderstorms", "clowns"),
        ("I'm terrified of {v}.", "Honestly, {v} give me nightmares."),
    ),
    Fact(
        "tea",
        "favourite tea",
        "Which infusion does the user brew in the evening?",
        ("rooibos", "genmaicha", "chamomile", "earl grey"),
        ("I drink {v} every evening.", "A mug of {v} is how I unwind."),
    ),
    Fact(
        "game",
        "video game",
        "What is the user playing on their console?",
        ("Zelda", "Stardew Valley", "Hades", "Elden Ring", "Celeste"),
        ("I've sunk forty hours into {v}.", "Can't stop playing {v}."),
        ("Finished my last game, now I'm hooked on {v}.",),
    ),
    Fact(
        "podcast",
        "podcast",
        "Which show does the user stream during walks?",
        ("Radiolab", "99% Invisible", "Hardcore History", "Reply All"),
        ("I listen to {v} on my walks.", "New episode of {v} dropped today."),
    ),
    Fact(
        "bike",
        "bicycle",
        "What kind of two-wheeler does the user ride?",
        ("a gravel bike", "a cargo bike", "a fixie", "an electric bike"),
        ("I bought {v}.", "Rode {v} along the river today."),
    ),
    Fact(
        "garden",
        "vegetable patch",
        "What grows in the user's allotment?",
        ("tomatoes", "zucchini", "strawberries", "chili peppers", "pumpkins"),
        ("My {v} are finally ripening.", "The garden is overflowing with {v}."),
    ),
    Fact(
        "medication",
        "daily pill",
        "What does the user take every morning for their health?",
        ("an antihistamine", "vitamin D", "thyroid medication", "an iron supplement"),
        ("My doctor put me on {v}.", "I take {v} with breakfast."),
    ),
    Fact(
        "course",
        "evening class",
        "What is the user studying at night school?",
        ("accounting", "photography", "welding", "nursing", "UX design"),
        ("I enrolled in a {v} course.", "Two nights a week I have {v} lectures."),
    ),
    Fact(
        "anniversary",
        "wedding anniversary",
        "When did the user get married?",
        ("in May 2015", "in September 2019", "in June 2012", "in February 2021"),
        ("My husband and I married {v}.", "We said our vows {v}."),
    ),
    Fact(
        "house",
        "home purchase",
        "What kind of property did the user buy?",
        ("a terraced house", "a farmhouse", "a loft", "a bungalow"),
        ("We just closed on {v}.", "The keys to our {v} are finally ours."),
    ),
    Fact(
        "shoe-size",
        "foot measurement",
        "What size footwear does the user need?",
        ("size 38", "size 42", "size 44", "size 40"),
        ("I wear {v} shoes.", "They only had boots in {v}, lucky me."),
    ),
    Fact(
        "blood-type",
        "blood group",
        "What does the user's donor card say about their blood?",
        ("O negative", "A positive", "B negative", "AB positive"),
        ("My blood type is {v}.", "I donate regularly; I'm {v}."),
    ),
    Fact(
        "superstition",
        "lucky number",
        "Which number does the user consider lucky?",
        ("seven", "thirteen", "four", "twenty-two"),
        ("My lucky number is {v}.", "I always pick {v} when I play the lottery."),
    ),
    Fact(
        "colour",
        "favourite colour",
        "Which hue does the user like best?",
        ("teal", "mustard yellow", "burgundy", "forest green"),
        ("My favourite colour is {v}.", "I painted the hallway {v}, my favourite."),
    ),
    Fact(
        "roommate",
        "flatmate",
        "Who shares the user's apartment?",
        ("Chloe", "Arjun", "Bastian", "Mei"),
        ("My roommate {v} cooks amazing curry.", "{v}, who I share the flat with, got a drum kit."),
        ("My old flatmate left; {v} moved in.",),
    ),
    Fact(
        "therapy",
        "wellbeing practice",
        "What does the user do for their mental health?",
        ("meditation", "journaling", "weekly therapy", "cold showers"),
        ("I started {v} and it really helps.", "Keeping up with {v} has calmed me down."),
    ),
    Fact(
        "landlord",
        "landlord's name",
        "Who owns the place the user rents?",
        ("Mr. Castellano", "Mrs. Brandt", "Mr. Ng", "Ms. Duarte"),
        ("Our landlord {v} finally fixed the boiler.", "{v}, who we rent from, raised the rent."),
    ),
    Fact(
        "bakery",
        "favourite bakery",
        "Where does the user buy their bread?",
        ("Boulangerie Colette", "Crumb & Co", "Bäckerei Wolf", "Forno Rosa"),
        ("I get my bread at {v}.", "The croissants at {v} are unbeatable."),
    ),
    Fact(
        "doctor",
        "family physician",
        "Who is the user's GP?",
        ("Dr. Iversen", "Dr. Mensah", "Dr. Kowalczyk", "Dr. Ferreira"),
        ("My doctor is {v}.", "Saw {v} for a check-up today."),
        ("Changed practices; my new GP is {v}.",),
    ),
    Fact(
        "vacation-home",
        "holiday cottage",
        "Where does the user's family spend summers?",
        ("a cabin by Lake Saimaa", "a flat in Split", "a chalet near Chamonix"),
        ("We have {v}.", "Summers are spent at our {v}."),
    ),
    Fact(
        "startup",
        "company founded",
        "What business did the user set up?",
        ("a bike repair shop", "a translation agency", "a coffee roastery", "a climbing gym"),
        ("I founded {v}.", "Launching {v} was the scariest thing I've done."),
    ),
    Fact(
        "charity-run",
        "race",
        "What event is the user training for?",
        ("the Berlin marathon", "a half-marathon in Lisbon", "a triathlon", "a 10k for charity"),
        ("I signed up for {v}.", "Training hard for {v} in October."),
        ("Scrapped the old goal; I'm training for {v} now.",),
    ),
    Fact(
        "collection",
        "collection",
        "What does the user collect?",
        ("vinyl records", "vintage stamps", "fountain pens", "enamel pins"),
        ("I collect {v}.", "Found two new {v} for my collection."),
    ),
    Fact(
        "nickname",
        "nickname",
        "What do the user's friends call them?",
        ("Sparky", "Bean", "Captain", "Doc"),
        ("Everyone calls me {v}.", "My friends have called me {v} since school."),
    ),
    Fact(
        "pet-bird",
        "parrot's name",
        "What is the name of the user's talking bird?",
        ("Kiwi", "Mango", "Rio", "Captain Beak"),
        ("Our parrot {v} learned to whistle.", "{v}, our budgie, won't stop chirping."),
    ),
    Fact(
        "chess",
        "chess rating",
        "How strong is the user at the board game with kings and queens?",
        ("1450", "1800", "2100", "1200"),
        ("My chess rating is {v}.", "I climbed to {v} on the chess site."),
        ("Had a good month, my chess rating is {v} now.",),
    ),
    Fact(
        "workshift",
        "working hours",
        "When does the user's working day start?",
        ("at six in the morning", "at ten", "at noon", "at eight"),
        ("My shift starts {v}.", "I clock in {v} every day."),
        ("Schedule changed, I start {v} now.",),
    ),
)

ASKS = (
    "Could you walk me through {t}?",
    "Can you explain {t} in Python?",
    "I keep getting confused by {t}. How does it work?",
    "What should I know about {t}?",
    "Quick question about {t}: what are the rules?",
)
PASSING = ("", "By the way, ", "Unrelated, but ", "Oh, and ", "Random update: ")
ACKS = (
    "Thanks for sharing that with me; I'll keep it in mind.",
    "Good to know! Let me know if anything else comes up.",
    "Noted. Anything else I can help with today?",
    "That sounds like a lot going on. Happy to help whenever you need.",
)
TOPICS = tuple(sorted(name for name, text in topics.items() if len(text.split()) >= 150))


def _topic_title(name: str) -> str:
    return topics[name].strip().splitlines()[0].strip()


def _answer(rng: random.Random, name: str) -> str:
    """200-450 words of consecutive paragraphs of the topic's help text, from a random paragraph on."""
    paragraphs = [" ".join(p.split()) for p in topics[name].split("\n\n") if p.strip()][1:]
    start = rng.randrange(max(1, len(paragraphs) - 3))
    wanted = rng.randint(200, 450)
    words: list[str] = []
    for paragraph in paragraphs[start:] + paragraphs[:start]:
        words += paragraph.split()
        if len(words) >= wanted:
            break
    return " ".join(words[:wanted])


def _in_passing(lead: str, template: str, value: str) -> str:
    """The statement after a lead-in ("By the way, "), lowercased unless it starts with a name or "I"."""
    said = template.format(v=value)
    keeps_capital = template.startswith("{v}") or said.split(" ", 1)[0].split("'")[0] == "I"
    return lead + (said if keeps_capital or not lead else said[0].lower() + said[1:])


def _date(day: dt.date, rng: random.Random) -> str:
    hour, minute = rng.randint(8, 21), rng.choice((0, 10, 15, 30, 45))
    clock = f"{(hour - 1) % 12 + 1}:{minute:02d} {'am' if hour < 12 else 'pm'}"
    return f"{clock} on {day.day} {day.strftime('%B')}, {day.year}"


def _user(index: int, seed: int) -> dict[str, Any]:
    rng = random.Random(f"{seed}-{index}")
    name = NAMES[index % len(NAMES)]
    session_count = rng.randint(20, 40)
    facts = rng.sample(FACTS, rng.randint(10, 14))
    # (session, fact, value, is_update) statements, then placed into sessions at random turn positions.
    statements: list[tuple[int, Fact, str, bool]] = []
    for fact in facts:
        first, *rest = rng.sample(fact.values, len(fact.values))
        session = rng.randint(1, session_count - 1)
        statements.append((session, fact, first, False))
        if fact.updates and rng.random() < 0.35:
            statements.append((rng.randint(session + 1, session_count), fact, rest[0], True))
    conversation: dict[str, Any] = {"speaker_a": name, "speaker_b": ASSISTANT}
    stated_at: dict[str, list[tuple[str, str]]] = {}  # fact kind -> [(dia_id, value)] in order
    day = dt.date(2024, 1, 8)
    for number in range(1, session_count + 1):
        day += dt.timedelta(days=rng.randint(2, 9))
        blocks: list[list[tuple[str, str, tuple[str, str] | None]]] = []  # (speaker, text, (kind, value))
        for _ in range(rng.randint(1, 3)):
            topic = rng.choice(TOPICS)
            ask = rng.choice(ASKS).format(t=_topic_title(topic).lower())
            blocks.append([(name, ask, None), (ASSISTANT, _answer(rng, topic), None)])
        for session, fact, value, is_update in statements:
            if session != number:
                continue
            template = rng.choice(fact.updates if is_update else fact.statements)
            text = _in_passing(rng.choice(PASSING), template, value)
            block = [(name, text, (fact.kind, value)), (ASSISTANT, rng.choice(ACKS), None)]
            blocks.insert(rng.randint(0, len(blocks)), block)
        turns: list[dict[str, str]] = []
        for speaker, text, stated in (turn for block in blocks for turn in block):
            dia_id = f"D{number}:{len(turns) + 1}"
            turns.append({"speaker": speaker, "dia_id": dia_id, "text": text})
            if stated:
                stated_at.setdefault(stated[0], []).append((dia_id, stated[1]))
        conversation[f"session_{number}_date_time"] = _date(day, rng)
        conversation[f"session_{number}"] = turns
    return {
        "sample_id": f"haystack-{index:02d}",
        "conversation": conversation,
        "qa": _questions(rng, facts, stated_at),
    }


def _questions(
    rng: random.Random, facts: list[Fact], stated_at: dict[str, list[tuple[str, str]]]
) -> list[dict[str, Any]]:
    qa: list[dict[str, Any]] = []
    for fact in facts:
        said = stated_at[fact.kind]
        dia_id, value = said[-1]
        category = 5 if len(said) > 1 else 4
        qa.append({"question": fact.question, "answer": value, "evidence": [dia_id], "category": category})
    # Two facts of different sessions, never updated (so each has one evidence turn).
    single = [f for f in facts if len(stated_at[f.kind]) == 1]
    pairs = [
        (a, b)
        for i, a in enumerate(single)
        for b in single[i + 1 :]
        if stated_at[a.kind][0][0].split(":")[0] != stated_at[b.kind][0][0].split(":")[0]
    ]
    for a, b in rng.sample(pairs, min(3, len(pairs))):
        qa.append(
            {
                "question": f"What are the user's {a.about} and {b.about}?",
                "answer": f"{stated_at[a.kind][0][1]}; {stated_at[b.kind][0][1]}",
                "evidence": [stated_at[a.kind][0][0], stated_at[b.kind][0][0]],
                "category": 1,
            }
        )
    return qa


def generate(users: int = USERS, seed: int = SEED) -> list[dict[str, Any]]:
    """The corpus: `users` LOCOMO-shaped samples, the same for the same arguments."""
    return [_user(index, seed) for index in range(users)]
