"""Life on the sandbox network: a back-filled week and live traffic, from a seeded RNG.

`backfill(world, now, days=7)` fills the past with the rhythm of real brand accounts (busy by day,
quiet at night, in each brand's time zone): questions, complaints, praise, thank-yous, replies deep in
threads, quotes, other scripts and emoji, a few long posts, and the brands' own posts and replies.
Most items are answered (during the brand's active hours), some are not, so at `now` there are fresh
and old unanswered items, and one brand account (`nightowl-mastodon`) has been quiet for a while.
With `hostile=True` (the demo's default) a few strangers also post text built to break terminals:
Rich markup, Textual actions, ANSI and other control characters, bidi overrides, zero-width
characters, HTML, broken facets, and a 10,000-character post from a remote Mastodon server.

People also talk about the brands without addressing them ("talk": what listening finds through the
brands' watch terms, `Brand.listen`): in English, German, Spanish, French and Portuguese, some of it
angry, some naming the brand by its hashtag. The back-fill leaves a few such posts in the last day
and a half (`Summary.talk`); the live traffic adds one now and then.

`run(world, stop_event, rate=7.5)` keeps it going: a new mention, reply or quote every few seconds,
now and then a brand post, a brand answering an item from "another app", or talk.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from socialtui.sandbox.people import BRANDS, CROWD, HOSTILE_CROWD, MASTODON_DOMAIN, QUIET_BRAND, Brand, Person
from socialtui.sandbox.text import byte_offset, graphemes
from socialtui.sandbox.world import BlueskyActor, MastodonAccount, World, WorldError

QUIET_FOR = timedelta(hours=3, minutes=25)
"""How long before `now` the quiet brand account (`people.QUIET_BRAND`) last posted."""

TOPICS: dict[str, dict[str, list[str]]] = {
    "acme": {
        "question": [
            "is the shop open on Sunday?",
            "do you ship to Norway? Asking for a friend (me).",
            "how long does a wheel truing take? Can I wait for it?",
            "does the Cargo 3 fit a child seat and a front basket at the same time?",
            "is there a student discount on repairs?",
            "what's the range of the e-bike in winter, honestly?",
            "can I book a service slot online or do I just walk in?",
            "are the new city bikes in stock in size L?",
            "do you take old bikes for trade-in?",
        ],
        "complaint": [
            "the app crashed again after the update, third time this week.",
            "my order #4521 still hasn't arrived, tracking says 'in transit' since Monday.",
            "waited 40 minutes at the counter today. Not great.",
            "the brake pads you fitted last month are squeaking already.",
            "your checkout keeps rejecting my card, tried three different ones.",
            "the chat on your website just says 'an agent will be with you shortly' for an hour.",
        ],
        "praise": [
            "love the new colours! The green one is gorgeous.",
            "best repair shop in town, fixed my gears in 20 minutes.",
            "just picked up my new bike and I'm grinning like an idiot 🚲",
            "your mechanic Jonas is a legend.",
            "10/10 would get a flat tyre outside your shop again.",
        ],
        "post": [
            "Spring service week: 20% off every tune-up until Saturday. Book at the counter or online.",
            "New in: the Cargo 3 in forest green. Come for a test ride!",
            "Reminder: the shop is closed on public holidays, the online store stays open.",
            "Tip of the day: check your tyre pressure every two weeks. Your knees will thank you.",
            "We're hiring a bike mechanic in Berlin-Mitte. Know someone? #jobs",
            "The app update 2.4 is out: faster checkout and a fix for the login loop.",
            "Ride safe out there today, the roads are icy. ❄️",
        ],
    },
    "nightowl": {
        "question": [
            "what was the song at 2:14 last night? The one with the saxophone.",
            "is the show on tonight or is it the replay?",
            "can I request a song for my mum's birthday?",
            "why does the stream keep buffering on the app?",
            "is there a podcast version of the interview?",
            "when is DJ Mara back from holiday?",
        ],
        "complaint": [
            "the stream has been down for 20 minutes, anyone else?",
            "the ads are louder than the music again.",
            "the app forgets my volume every time I open it.",
            "you cut off the interview right at the best part!",
        ],
        "praise": [
            "keeping me company on the night shift again. Thank you!",
            "that jazz hour was perfect. More of that please.",
            "best radio for insomniacs, no contest 🦉",
            "the new jingle is stuck in my head and I don't even mind.",
        ],
        "post": [
            "On air now: three hours of slow jazz for the night shift. 🎷",
            "Tonight at 23:00: our interview with the bakers who start at 3 am.",
            "Requests are open! Tell us what keeps you awake.",
            "Stream back to normal after the hiccup, sorry about that.",
            "Good morning to everyone finishing a night shift. Sleep well. ☕",
            "New episode of the Night Owl podcast is out. #podcast",
        ],
    },
}
THANKS = [
    "thank you so much, that helped!",
    "thanks for the quick answer 🙏",
    "perfect, thanks!",
    "got it, cheers.",
    "you're the best, thank you!",
    "ok thanks, will try that.",
]
FOLLOWUPS = [
    "still waiting on that, any news?",
    "I did that and it's still not working.",
    "one more question: does that also apply online?",
    "and what about the weekend?",
    "sent you a DM with the details.",
]
EMOJI = ["🚲🚲🚲🔥", "👏👏👏", "😍😍", "🦉💜🌙", "🙌✨", "👍🏽", "🤔❓", "🏳️‍🌈❤️‍🔥👨‍👩‍👧‍👦"]
FOREIGN: dict[str, list[str]] = {
    "ja": ["日曜日は営業していますか？", "素晴らしいサービスをありがとうございます！"],
    "ar": ["هل المتجر مفتوح يوم الأحد؟", "شكرا جزيلا على المساعدة!"],
    "ru": ["Вы работаете в воскресенье?", "Спасибо, всё отлично!"],
    "zh": ["请问周日营业吗？", "服务太好了，谢谢！"],
    "el": ["Είστε ανοιχτά την Κυριακή;", "Ευχαριστώ πολύ!"],
    "he": ["האם החנות פתוחה ביום ראשון?", "תודה רבה על העזרה!"],
    "hi": ["क्या दुकान रविवार को खुली है?", "बहुत धन्यवाद!"],
    "ko": ["일요일에도 영업하나요?", "정말 감사합니다!"],
    "th": ["วันอาทิตย์เปิดไหมครับ", "ขอบคุณมากครับ!"],
    "de": [
        "Habt ihr am Sonntag geöffnet?",
        "Danke, super Service!",
        "Die App stürzt seit dem Update ständig ab.",
    ],
    "es": ["¿Abrís el domingo?", "¡Muchas gracias por la ayuda!"],
    "fr": ["Vous êtes ouverts dimanche ?", "Merci beaucoup, c'est parfait !"],
    "pl": ["Czy sklep jest otwarty w niedzielę?", "Dziękuję bardzo!"],
    "tr": ["Pazar günü açık mısınız?", "Çok teşekkürler!"],
    "vi": ["Cửa hàng có mở cửa vào Chủ nhật không?", "Cảm ơn rất nhiều!"],
    "sv": ["Har ni öppet på söndag?", "Tack så mycket!"],
    "is": ["Er opið á sunnudaginn?", "Takk kærlega!"],
    "nb": ["Har dere åpent på søndag?", "Tusen takk!"],
    "ga": ["An bhfuil sibh ar oscailt Dé Domhnaigh?", "Go raibh míle maith agat!"],
}
LONG_MASTODON = (
    "so here's the whole story, because 500 characters is all I get: I ordered the blue one three weeks ago, "
    "paid for express shipping, got a confirmation, then nothing. Called on Monday, was told it shipped. "
    "Tracking number doesn't work. Called again on Wednesday, different person, says it never left the warehouse. "
    "Today I got an email saying it was delivered - it was not, I was home all day. I'm not angry, I just want "
    "either the thing or my money back. Who can actually help me with this?"
)
LONG_BLUESKY = (
    "long one, sorry: ordered three weeks ago with express shipping, got a confirmation, then nothing. "
    "Tracking number doesn't work, the hotline says it shipped, the email says delivered, my doorstep says "
    "otherwise. I'm not angry, I'd just like either the thing or a refund. Who can help?"
)
REPLIES = {
    "question": [
        "Hi {name}! Yes, we are: Sat 10-14, and the online store is always open.",
        "Good question {name}, we'll check and get back to you today.",
        "Hi {name}, yes! Just drop by, no appointment needed.",
        "Hey {name}, it's track 7 on tonight's playlist: 'Blue in Green'. 🎷",
    ],
    "complaint": [
        "Sorry to hear that, {name}. Could you DM us your order number? We'll sort it out.",
        "That's not how it should be, {name}. We're on it and will update you within the hour.",
        "Thanks for telling us, {name}. A fix is rolling out today.",
    ],
    "praise": ["Thank you {name}, that made our day! 💛", "Aww, thanks {name}! See you soon."],
    "thanks": ["Any time, {name}!", "Glad we could help, {name}."],
    "other": [
        "Thanks {name}! Danke! Merci! 🙏",
        "Hi {name}, thank you for writing! We'll answer in detail soon.",
    ],
    "emoji": ["🙌 thanks {name}!"],
    "long": ["{name}, we're really sorry. We've escalated this and someone will call you today."],
}
HOSTILE_MASTODON = [
    "[bold red]markup[/] is this rendered as markup?",
    "[@click=app.quit]x[/] click here for a prize",
    "\x1b[31mred alert\x1b[0m your app \x1b]0;pwned\x07 says hi",
    "control chars: bell\x07 backspace\x08\x08 vt\x0b ff\x0c del\x7f csi\x9b2J end",
    "\u202eThis sentence is reversed\u202c and \u2066isolated\u2069 text",
    "zero\u200bwidth\u200d joiners\u200c and a BOM\ufeff in here",
    "<script>alert(1)</script> &amp; <b>not bold</b> &lt;3",
    "line one\r\nline two\rcarriage return overwrite",
]
HOSTILE_BLUESKY = [
    "[bold red]markup[/] is this rendered as markup?",
    "[@click=app.quit]x[/] click here for a prize",
    "\x1b[31mred alert\x1b[0m \x1b]0;pwned\x07 hello",
    "\u202eThis sentence is reversed\u202c zero\u200bwidth\u200d",
]


@dataclass(order=True)
class _Event:
    at: datetime
    order: int
    kind: str = field(compare=False)
    data: dict[str, Any] = field(compare=False, default_factory=dict)


TALK: dict[str, list[tuple[str, str]]] = {
    # (text, language): {name} is the brand's watch phrase, {tag} its hashtag. None mentions it.
    "acme": [
        ("{name} broke down again, never buying there.", "en"),
        ("Worst customer service ever from {name}, still waiting for my refund.", "en"),
        ("Anyone know if {name} repairs cargo bikes? {tag}", "en"),
        ("Just test-rode the new cargo bike at {name}. Love it! {tag}", "en"),
        ("Mein Rad von {name} ist schon wieder kaputt. Nie wieder.", "de"),
        ("Hat jemand Erfahrung mit dem Service von {name}? {tag}", "de"),
        ("Quiero un reembolso, {name} no contesta desde hace dos semanas. Una estafa.", "es"),
        ("Merci {name}, réparation rapide et pas chère ! {tag}", "fr"),
        ("A minha bicicleta da {name} avariou outra vez, que raiva. {tag}", "pt"),
        ("The {name} shop on Torstraße looks nice, might drop by on Saturday.", "en"),
    ],
    "nightowl": [
        ("{name} played my favourite song at 3am, absolute legends. {tag}", "en"),
        ("The {name} stream has been buffering all night, this is useless. {tag}", "en"),
        ("Listening to {name} on the night shift again. {tag}", "en"),
        ("¿Alguien más escucha {name}? El programa de anoche fue pésimo. {tag}", "es"),
        ("Danke {name} für die Musik in der Nachtschicht! {tag}", "de"),
        ("Is {name} going to do a podcast? Would listen.", "en"),
    ],
}
"""What people say about the brands without addressing them (`talk`)."""


@dataclass
class Summary:
    """What a back-fill made: counts, and the items left unanswered at `now` per brand account."""

    items: int = 0
    answered: int = 0
    brand_posts: int = 0
    unanswered: dict[str, list[str]] = field(default_factory=dict)
    hostile: list[str] = field(default_factory=list)
    """Remote ids (status ids / at:// URIs) of the hostile items."""
    talk: dict[str, list[str]] = field(default_factory=dict)
    """Per brand account: remote ids of the posts that name it without addressing it (what listening
    finds there with its watch terms)."""


class _Generator:
    def __init__(self, world: World, rng: random.Random) -> None:
        self.world = world
        self.rng = rng
        self.order = itertools.count()
        self.people = list(CROWD)

    # --- who --------------------------------------------------------------------------------------

    def crowd(self, network: str, hostile: bool = False) -> list[Person]:
        pool = HOSTILE_CROWD if hostile else self.people
        return [p for p in pool if (p.mastodon if network == "mastodon" else p.bluesky)]

    def brand_account(self, brand: Brand) -> MastodonAccount | BlueskyActor:
        return self.world.brand_account(brand.key)

    def person_account(self, person: Person, network: str) -> MastodonAccount | BlueskyActor:
        if network == "mastodon":
            return self.mastodon_person(person)
        return self.bluesky_person(person)

    def mastodon_person(self, person: Person) -> MastodonAccount:
        username, _, domain = (person.mastodon or "").partition("@")
        return self.world.mastodon_account(
            username, domain or None, display_name=person.display_name, note=person.note
        )

    def bluesky_person(self, person: Person) -> BlueskyActor:
        return self.world.bluesky_actor(
            person.bluesky or "", display_name=person.display_name, description=person.note
        )

    @staticmethod
    def mention_of(brand: Brand, person: Person) -> str:
        if brand.network == "bluesky":
            return f"@{brand.username}"
        local = "@" not in (person.mastodon or "")
        return f"@{brand.username}" if local else f"@{brand.username}@{MASTODON_DOMAIN}"

    @staticmethod
    def address_of(person_account: MastodonAccount) -> str:
        return f"@{person_account.acct}"

    @staticmethod
    def first_name(person: Person) -> str:
        name = person.display_name.split()[0] if person.display_name.split() else person.name
        return name if name.isalnum() else person.name.capitalize()

    # --- what -------------------------------------------------------------------------------------

    def item_text(
        self, brand: Brand, person: Person, category: str, *, mention: bool = True
    ) -> tuple[str, str]:
        """(text, language) of a crowd item in `category` addressed to `brand`."""
        topics = TOPICS[brand.brand]
        lang = "en"
        if category in ("question", "complaint", "praise"):
            body = self.rng.choice(topics[category])
        elif category == "thanks":
            body = self.rng.choice(THANKS)
        elif category == "followup":
            body = self.rng.choice(FOLLOWUPS)
        elif category == "emoji":
            body = self.rng.choice(EMOJI)
        elif category == "other":
            lang = (
                person.lang
                if person.lang in FOREIGN and person.lang != "en"
                else self.rng.choice(sorted(FOREIGN))
            )
            body = self.rng.choice(FOREIGN[lang])
        else:  # long
            body = LONG_BLUESKY if brand.network == "bluesky" else LONG_MASTODON
        if not mention:
            text = body[0].upper() + body[1:]
        elif self.rng.random() < 0.65 or category == "long":
            text = f"{self.mention_of(brand, person)} {body}"
        else:
            text = f"{body[0].upper() + body[1:]} {self.mention_of(brand, person)}"
        if brand.network == "bluesky" and graphemes(text) > 300:
            text = text[:290] + "…"
        return text, lang

    def category(self) -> str:
        return self.rng.choices(
            ["question", "complaint", "praise", "other", "emoji", "long", "thanks"],
            weights=[30, 20, 20, 12, 6, 4, 8],
        )[0]

    def reply_text(
        self, brand: Brand, category: str, person: Person, account: MastodonAccount | BlueskyActor
    ) -> str:
        key = category if category in REPLIES else "question" if category == "followup" else "other"
        text = self.rng.choice(REPLIES[key]).format(name=self.first_name(person))
        if brand.network == "mastodon" and isinstance(account, MastodonAccount):
            text = f"{self.address_of(account)} {text}"
        return text

    # --- acts -------------------------------------------------------------------------------------

    def post_item(
        self,
        brand: Brand,
        person: Person,
        category: str,
        at: datetime,
        *,
        parent: str | None = None,
        quote: str | None = None,
        visibility: str = "public",
    ) -> str | None:
        """A crowd member writes an item for `brand`; its remote id (status id / URI)."""
        author = self.person_account(person, brand.network)
        try:
            if isinstance(author, MastodonAccount):
                text, lang = self.item_text(brand, person, category)
                status, _ = self.world.mastodon_post(
                    author,
                    text,
                    at=at,
                    in_reply_to_id=parent,
                    visibility=visibility,
                    language=lang,
                    check_length=False,
                )
                return status.id
            # A new post must mention the brand to reach it; a reply or a quote reaches it anyway.
            mention = quote is None and (parent is None or self.rng.random() < 0.4)
            text, lang = self.item_text(brand, person, category, mention=mention)
            record = self.world.bluesky_post(author, text, reply_to=parent, quote=quote, langs=[lang], at=at)
            return record.uri
        except WorldError:
            return None

    def brand_reply(
        self, brand: Brand, item_id: str, category: str, person: Person, at: datetime
    ) -> str | None:
        account = self.brand_account(brand)
        author = self.person_account(person, brand.network)
        text = self.reply_text(brand, category, person, author)
        try:
            if isinstance(account, MastodonAccount):
                parent = self.world.statuses.get(item_id)
                if parent is None:
                    return None
                visibility = parent.visibility  # never wider than the post answered
                status, _ = self.world.mastodon_post(
                    account, text, at=at, in_reply_to_id=item_id, visibility=visibility, language="en"
                )
                return status.id
            record = self.world.bluesky_post(account, text, reply_to=item_id, langs=["en"], at=at)
            return record.uri
        except WorldError:
            return None

    def brand_post(self, brand: Brand, at: datetime) -> str | None:
        account = self.brand_account(brand)
        text = self.rng.choice(TOPICS[brand.brand]["post"])
        if isinstance(account, MastodonAccount):
            status, _ = self.world.mastodon_post(account, text, at=at, language="en")
            return status.id
        return self.world.bluesky_post(account, text, langs=["en"], at=at).uri

    def brand_posts(self, brand: Brand, limit: int = 8) -> list[str]:
        account = self.brand_account(brand)
        if isinstance(account, MastodonAccount):
            ids = [
                i
                for i in self.world.statuses_by_account.get(account.id, [])
                if not self.world.statuses[i].in_reply_to_id and not self.world.statuses[i].reblog_of
            ]
            return ids[-limit:]
        uris = [
            u
            for u in self.world.posts_by_author.get(account.did, [])
            if not self.world.records[u].value.get("reply")
        ]
        return uris[-limit:]

    def react(self, brand: Brand, post_id: str, person: Person, at: datetime) -> None:
        """A like/favourite (and now and then a boost/repost) on a brand post."""
        author = self.person_account(person, brand.network)
        try:
            if isinstance(author, MastodonAccount):
                self.world.mastodon_favourite(author, post_id, at=at)
                if self.rng.random() < 0.25:
                    self.world.mastodon_reblog(author, post_id, at=at)
            else:
                self.world.bluesky_like(author, post_id, at=at)
                if self.rng.random() < 0.2:
                    self.world.bluesky_repost(author, post_id, at=at)
        except (WorldError, KeyError):
            pass

    def talk(self, brand: Brand, person: Person, at: datetime) -> tuple[str, bool] | None:
        """A crowd member names `brand` without addressing it: (remote id, whether it holds the
        brand's hashtag)."""
        name = next((t for t in brand.listen if not t.startswith("#")), brand.display_name)
        tag = next((t for t in brand.listen if t.startswith("#")), "")
        template, lang = self.rng.choice(TALK[brand.brand])
        spoken = name.title() if self.rng.random() < 0.5 else name
        text = template.format(name=spoken, tag=tag).strip()
        author = self.person_account(person, brand.network)
        tagged = bool(tag) and tag.casefold() in text.casefold()
        try:
            if isinstance(author, MastodonAccount):
                status, _ = self.world.mastodon_post(author, text, at=at, language=lang, check_length=False)
                return status.id, tagged
            record = self.world.bluesky_post(author, text, langs=[lang], at=at)
            return record.uri, tagged
        except WorldError:
            return None

    def chatter(self, person: Person, network: str, at: datetime) -> None:
        lines = [
            "Morning ride done ☀️",
            "Coffee number three. Send help.",
            "Does anyone else talk to their plants?",
            "Rain again. #berlin",
            "Night shift, day 4. 🌙",
        ]
        author = self.person_account(person, network)
        text = self.rng.choice(lines)
        if isinstance(author, MastodonAccount):
            self.world.mastodon_post(author, text, at=at, check_length=False)
        else:
            self.world.bluesky_post(author, text, at=at)


# --- rhythm ---------------------------------------------------------------------------------------

DAY_WEIGHTS = {
    "acme": [
        0.1,
        0.05,
        0.05,
        0.05,
        0.05,
        0.1,
        0.3,
        0.6,
        1.0,
        1.0,
        1.0,
        1.1,
        1.3,
        1.3,
        1.1,
        1.1,
        1.1,
        1.1,
        0.9,
        0.9,
        0.8,
        0.7,
        0.5,
        0.25,
    ],
    "nightowl": [
        1.4,
        1.3,
        1.1,
        0.9,
        0.6,
        0.4,
        0.3,
        0.3,
        0.3,
        0.3,
        0.4,
        0.4,
        0.5,
        0.5,
        0.5,
        0.5,
        0.6,
        0.7,
        0.9,
        1.0,
        1.2,
        1.4,
        1.5,
        1.5,
    ],
}


def _poisson(rng: random.Random, lam: float) -> int:
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _active(brand: Brand, at: datetime) -> bool:
    """Whether the brand's operators are at work at `at` (its active hours, as `people.BRANDS` has them)."""
    if brand.active_hours == "always":
        return True
    local = at.astimezone(ZoneInfo(brand.timezone))
    minutes = local.hour * 60 + local.minute
    if local.weekday() < 5:
        return 8 * 60 <= minutes < 20 * 60
    if local.weekday() == 5:
        return 10 * 60 <= minutes < 14 * 60
    return False


def _answer_time(brand: Brand, at: datetime, rng: random.Random) -> datetime:
    """When an operator answers an item written at `at`: minutes to hours, within active hours."""
    delay = timedelta(minutes=min(240.0, rng.lognormvariate(math.log(14), 0.9)))
    answer = at + delay
    guard = 0
    while not _active(brand, answer) and guard < 24 * 4 * 4:
        answer += timedelta(minutes=15)
        guard += 1
    return answer + (timedelta(minutes=rng.uniform(2, 40)) if guard else timedelta())


def backfill(
    world: World,
    now: datetime | None = None,
    days: int = 7,
    *,
    hostile: bool = True,
    seed: int | None = None,
) -> Summary:
    """Fill the `days` before `now` (default: the world's clock) with a week of life. Deterministic
    for a given world seed (or `seed`) and `now`."""
    now = now or world.now()
    rng = random.Random(world.seed if seed is None else seed)
    gen = _Generator(world, rng)
    start = now - timedelta(days=days)
    heap: list[_Event] = []
    summary = Summary(unanswered={b.key: [] for b in BRANDS})
    quiet_since = now - QUIET_FOR

    def push(at: datetime, kind: str, **data: Any) -> None:
        heapq.heappush(heap, _Event(at, next(gen.order), kind, data))

    slot = timedelta(minutes=15)
    for brand in BRANDS:
        weights = DAY_WEIGHTS[brand.brand]
        mean = sum(weights) / 24
        t = start.replace(
            minute=start.minute - start.minute % 15, second=0, microsecond=0
        )  # on the quarter hour
        while t < now - timedelta(minutes=45):
            local_hour = t.astimezone(ZoneInfo(brand.timezone)).hour
            for _ in range(_poisson(rng, brand.items_per_day / 96 * weights[local_hour] / mean)):
                push(t + timedelta(seconds=rng.uniform(0, 900)), "item", brand=brand)
            if _active(brand, t):
                post_at = t + timedelta(seconds=rng.uniform(0, 900))
                if rng.random() < brand.posts_per_day / (
                    96 if brand.active_hours == "always" else 48
                ) and _active(brand, post_at):
                    push(post_at, "brand_post", brand=brand)
                if not _active(brand, t + slot) and rng.random() < 0.9:
                    push(t + timedelta(seconds=rng.uniform(0, 600)), "brand_post", brand=brand)  # signing off
            t += slot
        for person in gen.crowd(brand.network)[:: 3 if brand.brand == "acme" else 4]:
            for day in range(days):
                push(
                    start + timedelta(days=day, hours=rng.uniform(6, 22)),
                    "chatter",
                    brand=brand,
                    person=person,
                )
    push(quiet_since, "brand_post", brand=next(b for b in BRANDS if b.key == QUIET_BRAND), force=True)

    def blocked(brand: Brand, at: datetime) -> bool:
        return at >= now or (brand.key == QUIET_BRAND and at > quiet_since)

    while heap:
        event = heapq.heappop(heap)
        brand = event.data["brand"]
        at = event.at
        if event.kind == "brand_post":
            if blocked(brand, at) and not event.data.get("force"):
                continue
            post_id = gen.brand_post(brand, at)
            summary.brand_posts += 1
            for person in rng.sample(gen.crowd(brand.network), k=rng.randint(0, 4)):
                react_at = at + timedelta(minutes=rng.uniform(1, 180))
                if react_at < now and post_id:
                    push(react_at, "react", brand=brand, post=post_id, person=person)
        elif event.kind == "react":
            gen.react(brand, event.data["post"], event.data["person"], at)
        elif event.kind == "chatter":
            if at < now:
                gen.chatter(event.data["person"], brand.network, at)
        elif event.kind == "item":
            person = rng.choice(gen.crowd(brand.network))
            category = event.data.get("category") or gen.category()
            parent = event.data.get("parent")
            quote = None
            visibility = "public"
            roll = rng.random()
            recent = gen.brand_posts(brand)
            if parent is None and recent and roll < 0.35:
                parent = rng.choice(recent)
            elif brand.network == "bluesky" and parent is None and recent and roll < 0.45:
                quote = rng.choice(recent)
            if event.data.get("person"):
                person = event.data["person"]
            if brand.network == "mastodon":
                visibility = rng.choices(["public", "unlisted", "private", "direct"], weights=[80, 10, 5, 5])[
                    0
                ]
                if parent and parent in world.statuses and world.statuses[parent].visibility == "direct":
                    visibility = "direct"
            item = gen.post_item(
                brand, person, category, at, parent=parent, quote=quote, visibility=visibility
            )
            if item is None:
                continue
            summary.items += 1
            depth = event.data.get("depth", 0)
            # Recent items are left open more often (the queue at `now`); older ones were mostly
            # answered, thank-yous included (a short reply).
            if now - at > timedelta(hours=36):
                chance = 0.98
            elif now - at > timedelta(hours=6):
                chance = {"thanks": 0.8, "emoji": 0.85}.get(category, 0.95)
            else:
                chance = {"thanks": 0.35, "emoji": 0.5, "praise": 0.75}.get(category, 0.9)
            answer_at = _answer_time(brand, at, rng)
            if rng.random() < chance and not blocked(brand, answer_at):
                push(
                    answer_at, "answer", brand=brand, item=item, category=category, person=person, depth=depth
                )
            else:
                summary.unanswered[brand.key].append(item)
        elif event.kind == "answer":
            person = event.data["person"]
            reply = gen.brand_reply(brand, event.data["item"], event.data["category"], person, at)
            if reply is None:
                summary.unanswered[brand.key].append(event.data["item"])
                continue
            summary.answered += 1
            depth = event.data["depth"] + 1
            if depth < 6 and rng.random() < 0.4:
                follow_at = at + timedelta(minutes=rng.uniform(2, 90))
                if follow_at < now - timedelta(minutes=5):
                    category = rng.choice(["thanks", "thanks", "followup", "question"])
                    push(
                        follow_at,
                        "item",
                        brand=brand,
                        person=person,
                        parent=reply,
                        category=category,
                        depth=depth,
                    )

    _plant(world, gen, now, summary, hostile)
    _talk(world, now, summary, rng.random())
    return summary


def _talk(world: World, now: datetime, summary: Summary, seed: float) -> None:
    """A few posts per brand account in the last day and a half that name the brand without
    addressing it. From an RNG of their own, so the rest of the back-fill is as it was."""
    gen = _Generator(world, random.Random(seed))
    for brand in BRANDS:
        if not brand.listen:
            continue
        found = summary.talk.setdefault(brand.key, [])
        crowd = gen.crowd(brand.network)
        for n in range(5):
            at = now - timedelta(hours=36) + timedelta(hours=7 * n + gen.rng.uniform(0, 6))
            made = gen.talk(brand, gen.rng.choice(crowd), min(at, now - timedelta(minutes=3)))
            if made is None:
                continue
            remote_id, tagged = made
            # A server without full-text search finds talk only through the hashtag timeline.
            if brand.full_text_search or tagged:
                found.append(remote_id)


def _plant(world: World, gen: _Generator, now: datetime, summary: Summary, hostile: bool) -> None:
    """Unanswered items that are sure to be there at `now`: fresh ones, one a few hours old per
    account, one two days old; and the hostile texts."""
    rng = gen.rng
    for brand in BRANDS:
        # The other accounts are in good shape: they posted within the last active hour.
        if brand.key == QUIET_BRAND:
            continue
        at_work = now
        while not _active(brand, at_work) and now - at_work < timedelta(days=3):
            at_work -= timedelta(minutes=5)
        if at_work - _last_post(world, brand) > timedelta(hours=1):
            gen.brand_post(brand, at_work - timedelta(minutes=rng.uniform(5, 40)))
            summary.brand_posts += 1
    for index, brand in enumerate(BRANDS):
        crowd = gen.crowd(brand.network)
        ages = [
            timedelta(minutes=rng.uniform(2, 9)),
            timedelta(minutes=rng.uniform(12, 35)),
            timedelta(hours=5, minutes=10 + index),
        ]
        if index == 1:
            ages.append(timedelta(days=2, hours=3))
        for age, category in zip(ages, ["question", "complaint", "question", "complaint"], strict=False):
            item = gen.post_item(brand, rng.choice(crowd), category, now - age)
            if item:
                summary.items += 1
                summary.unanswered[brand.key].append(item)
    if not hostile:
        return
    world.add_people(HOSTILE_CROWD)
    acme_m = next(b for b in BRANDS if b.key == "acme-mastodon")
    acme_b = next(b for b in BRANDS if b.key == "acme-bluesky")
    mallory, trent, eve = HOSTILE_CROWD
    authors = [mallory, trent]
    for i, text in enumerate(HOSTILE_MASTODON):
        author = gen.mastodon_person(authors[i % 2])
        status, _ = world.mastodon_post(
            author,
            f"@acme@{MASTODON_DOMAIN} {text}",
            at=now - timedelta(minutes=50 + 7 * i),
            check_length=False,
        )
        summary.hostile.append(status.id)
        summary.unanswered[acme_m.key].append(status.id)
    words = "The quick brown fox jumps over the lazy dog again and again. "
    huge = f"@acme@{MASTODON_DOMAIN} " + (words * (10_000 // len(words) + 1))
    status, _ = world.mastodon_post(
        gen.mastodon_person(trent),
        huge[:10_000],
        at=now - timedelta(minutes=47),
        check_length=False,
    )
    summary.hostile.append(status.id)
    summary.unanswered[acme_m.key].append(status.id)
    acme_actor = world.brand_account(acme_b.key)
    assert isinstance(acme_actor, BlueskyActor), "acme-bluesky is a Bluesky brand"
    for i, text in enumerate(HOSTILE_BLUESKY):
        b_author = gen.bluesky_person([eve, mallory][i % 2])
        record = world.bluesky_post(
            b_author, f"@{acme_b.username} {text}", at=now - timedelta(minutes=55 + 6 * i)
        )
        summary.hostile.append(record.uri)
        summary.unanswered[acme_b.key].append(record.uri)
    # A mention whose facets lie: one past the end of the text, one in the middle of a character.
    text = f"broken facets ✨ @{acme_b.username}"
    facets = [
        {
            "index": {"byteStart": byte_offset(text, text.index("@")), "byteEnd": len(text.encode()) + 40},
            "features": [{"$type": "app.bsky.richtext.facet#mention", "did": acme_actor.did}],
        },
        {
            "index": {
                "byteStart": byte_offset(text, text.index("✨")) + 1,
                "byteEnd": byte_offset(text, text.index("✨")) + 2,
            },
            "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "javascript:alert(1)"}],
        },
    ]
    record = world.bluesky_post(gen.bluesky_person(eve), text, at=now - timedelta(minutes=80), facets=facets)
    summary.hostile.append(record.uri)
    summary.unanswered[acme_b.key].append(record.uri)


def _last_post(world: World, brand: Brand) -> datetime:
    """When the brand account last posted (a post or a reply)."""
    account = world.brand_account(brand.key)
    with world.lock:
        if isinstance(account, MastodonAccount):
            own = world.statuses_by_account.get(account.id, [])
            return world.statuses[own[-1]].created_at if own else datetime.min.replace(tzinfo=UTC)
        posts = world.posts_by_author.get(account.did, [])
        return world.records[posts[-1]].indexed_at if posts else datetime.min.replace(tzinfo=UTC)


# --- live traffic ---------------------------------------------------------------------------------


def unanswered(world: World, brand_key: str) -> list[str]:
    """Remote ids of the items (mentions, replies, quotes) of a brand account that the account has
    not replied to, oldest first. (What socialtui's queue should show, before operators' "done".)"""
    with world.lock:
        account = world.brand_account(brand_key)
        out: list[str] = []
        if isinstance(account, MastodonAccount):
            for n in world.mastodon_notifications(account):
                if n.type != "mention" or n.status_id not in world.statuses:
                    continue
                children = world.replies.get(n.status_id, [])
                if not any(
                    world.statuses[c].account_id == account.id for c in children if c in world.statuses
                ):
                    out.append(n.status_id)
            return out
        for b_note in world.bluesky_notifications(account):
            if b_note.reason not in ("mention", "reply", "quote"):
                continue
            children = world.b_replies.get(b_note.uri, [])
            if not any(c.startswith(f"at://{account.did}/") for c in children) and b_note.uri not in out:
                out.append(b_note.uri)
        return out


def step(
    world: World,
    rng: random.Random | None = None,
    *,
    brand_post_chance: float = 0.08,
    answer_chance: float = 0.08,
    talk_chance: float = 0.1,
) -> dict[str, Any]:
    """One event of live traffic at the world's `now`; what happened, as a dict."""
    rng = rng or random.Random()
    gen = _Generator(world, rng)
    now = world.now()
    brand = rng.choices(BRANDS, weights=[b.items_per_day for b in BRANDS])[0]
    roll = rng.random()
    if roll > 1 - talk_chance and brand.listen:
        made = gen.talk(brand, rng.choice(gen.crowd(brand.network)), now)
        return {"kind": "talk", "account": brand.key, "id": made[0] if made else None}
    if roll < brand_post_chance and brand.key != QUIET_BRAND:
        return {"kind": "brand_post", "account": brand.key, "id": gen.brand_post(brand, now)}
    if roll < brand_post_chance + answer_chance and brand.key != QUIET_BRAND:
        waiting = unanswered(world, brand.key)
        if waiting:
            oldest = waiting[0]
            person = _person_of(world, gen, brand, oldest)
            reply = gen.brand_reply(brand, oldest, "question", person, now) if person else None
            return {"kind": "brand_answer", "account": brand.key, "item": oldest, "id": reply}
    category = gen.category()
    recent = gen.brand_posts(brand)
    parent = quote = None
    kind = "mention"
    roll = rng.random()
    if recent and roll < 0.35:
        parent, kind = rng.choice(recent), "reply"
    elif brand.network == "bluesky" and recent and roll < 0.5:
        quote, kind = rng.choice(recent), "quote"
    person = rng.choice(gen.crowd(brand.network))
    item = gen.post_item(brand, person, category, now, parent=parent, quote=quote)
    return {"kind": kind, "account": brand.key, "category": category, "id": item}


def _person_of(world: World, gen: _Generator, brand: Brand, item: str) -> Person | None:
    with world.lock:
        if brand.network == "mastodon":
            status = world.statuses.get(item)
            acct = world.m_accounts[status.account_id].acct if status else ""
            return next(
                (p for p in (*CROWD, *HOSTILE_CROWD) if p.mastodon and p.mastodon.lower() == acct.lower()),
                None,
            )
        record = world.records.get(item)
        handle = world.actors[record.did].handle if record else ""
        return next((p for p in (*CROWD, *HOSTILE_CROWD) if p.bluesky == handle), None)


async def run(world: World, stop_event: asyncio.Event, rate: float = 7.5, *, seed: int | None = None) -> int:
    """Produce live traffic until `stop_event` is set: one event every `rate` seconds on average
    (each wait uniform in [rate/2, rate*3/2]; the demo uses 7.5, i.e. one every 4-11 s). Returns the
    number of events made."""
    rng = random.Random(world.seed + 1 if seed is None else seed)
    made = 0
    while not stop_event.is_set():
        try:
            await asyncio.wait_for(stop_event.wait(), timeout=rng.uniform(rate / 2, rate * 1.5))
            break
        except TimeoutError:
            pass
        step(world, rng)
        made += 1
    return made
