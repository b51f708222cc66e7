"""Who lives on the sandbox network: the brand accounts the team looks after, and the crowd that
talks to them (display names in many scripts, local and remote Mastodon accounts, Bluesky handles).
"""

from __future__ import annotations

from dataclasses import dataclass

MASTODON_DOMAIN = "sandbox.social"
BLUESKY_DOMAIN = "sandbox.bsky"
SANDBOX_PASSWORD = "sandbox"
"""The app password of every Bluesky account on the sandbox (brand or not)."""


@dataclass(frozen=True)
class Brand:
    """A managed account: what `write_config` declares, and what the traffic generator animates."""

    key: str
    """The account id in the written config (`acme-mastodon`), also the key of faults and stats."""
    brand: str
    network: str
    username: str
    """Mastodon: the local username; Bluesky: the handle."""
    display_name: str
    note: str
    timezone: str
    active_hours: str
    max_quiet: str
    reply_within: str
    langs: tuple[str, ...]
    color: str
    items_per_day: float
    posts_per_day: float
    listen: tuple[str, ...] = ()
    """The watch terms `write_config` declares: what people call the brand without addressing it."""
    full_text_search: bool = True
    """Mastodon: whether the server searches words for this account (False: hashtags only)."""

    @property
    def handle(self) -> str:
        """As the config writes it: `@acme@sandbox.social` / `acme.sandbox.bsky`."""
        if self.network == "mastodon":
            return f"@{self.username}@{MASTODON_DOMAIN}"
        return self.username


BRANDS: tuple[Brand, ...] = (
    Brand(
        key="acme-mastodon",
        brand="acme",
        network="mastodon",
        username="acme",
        display_name="Acme Bikes 🚲",
        note="City bikes, e-bikes and repairs. Berlin & online. Support Mon-Fri 8-20, Sat 10-14.",
        timezone="Europe/Berlin",
        active_hours="Mon-Fri 08:00-20:00, Sat 10:00-14:00",
        max_quiet="4h",
        reply_within="15m",
        langs=("en", "de"),
        color="cyan",
        items_per_day=16,
        posts_per_day=4,
        listen=("acme bikes", "#acmebikes"),
    ),
    Brand(
        key="acme-bluesky",
        brand="acme",
        network="bluesky",
        username=f"acme.{BLUESKY_DOMAIN}",
        display_name="Acme Bikes 🚲",
        note="City bikes, e-bikes and repairs. Berlin & online.",
        timezone="Europe/Berlin",
        active_hours="Mon-Fri 08:00-20:00, Sat 10:00-14:00",
        max_quiet="4h",
        reply_within="15m",
        langs=("en", "de"),
        color="cyan",
        items_per_day=14,
        posts_per_day=4,
        listen=("acme bikes", "#acmebikes"),
    ),
    Brand(
        key="nightowl-mastodon",
        brand="nightowl",
        network="mastodon",
        username="nightowl",
        display_name="Night Owl Radio 🦉",
        note="Live radio for the night shift. On air around the clock.",
        timezone="America/New_York",
        active_hours="always",
        max_quiet="4h",
        reply_within="30m",
        langs=("en", "es"),
        color="magenta",
        items_per_day=10,
        posts_per_day=8,
        listen=("night owl radio", "#nightowlradio"),
        full_text_search=False,  # one server that searches hashtags only
    ),
    Brand(
        key="nightowl-bluesky",
        brand="nightowl",
        network="bluesky",
        username=f"nightowl.{BLUESKY_DOMAIN}",
        display_name="Night Owl Radio 🦉",
        note="Live radio for the night shift. On air around the clock.",
        timezone="America/New_York",
        active_hours="always",
        max_quiet="6h",
        reply_within="30m",
        langs=("en", "es"),
        color="magenta",
        items_per_day=10,
        posts_per_day=8,
        listen=("night owl radio", "#nightowlradio"),
    ),
)
QUIET_BRAND = "nightowl-mastodon"
"""The brand account whose last own post lies long before `now` after a back-fill (near its gap)."""


@dataclass(frozen=True)
class Person:
    """Someone in the crowd: on Mastodon (`user` local or `user@domain` remote), on Bluesky, or both."""

    name: str
    display_name: str
    mastodon: str | None
    bluesky: str | None
    lang: str
    note: str = ""
    hostile: bool = False


B = BLUESKY_DOMAIN
CROWD: tuple[Person, ...] = (
    Person("sam", "Sam Rivera", "sam@example.org", f"sam.{B}", "en", "Cyclist, coffee, bad puns."),
    Person("kim", "Kim Nguyễn", "kim@mastodon.example", "kim.example.com", "en"),
    Person("lee", "이재원 Lee Jae-won", "lee@example.net", None, "ko"),
    Person("zoe", "Zoë Ångström", "zoe", f"zoe.{B}", "sv"),
    Person("sakura", "田中さくら", "sakura@social.example", f"sakura.{B}", "ja"),
    Person("omar", "عمر الفاروق", "omar@example.org", f"omar.{B}", "ar"),
    Person("anna", "Анна Кузнецова", "anna", None, "ru"),
    Person("robin", "🌈 Robin 🚲", "robin@example.net", f"robin.{B}", "en"),
    Person("ngozi", "Ngozi Okafor", None, f"ngozi.{B}", "en"),
    Person("jose", "José Álvarez", "jose@mastodon.example", None, "es"),
    Person("chloe", "Chloé Dubois", None, f"chloe.{B}", "fr"),
    Person("mateusz", "Mateusz Żółć", "mateusz", None, "pl"),
    Person("eleni", "Ελένη Παπαδοπούλου", None, f"eleni.{B}", "el"),
    Person("yael", "יעל כהן", "yael@example.org", None, "he"),
    Person("ayse", "Ayşe Yılmaz", None, f"ayse.{B}", "tr"),
    Person("neha", "नेहा शर्मा", "neha@social.example", f"neha.{B}", "hi"),
    Person("wei", "陈伟", None, f"wei.{B}", "zh"),
    Person("kofi", "Kofi 🎧", "kofi", None, "en", "Night shift nurse. Radio on."),
    Person("lina", "Lina 🇸🇪", None, f"lina.{B}", "sv"),
    Person("bjorn", "Björn Þórsson", "bjorn@example.net", None, "is"),
    Person("hoa", "Lê Thị Hoa", None, f"hoa.{B}", "vi"),
    Person("chai", "ชัยวัฒน์ ศรีสุข", "chai@social.example", None, "th"),
    Person("tomas", "Tomás Ó Briain", "tomas", f"tomas.{B}", "en"),
    Person("priya", "Priya ✨ she/her", None, "priya.example.net", "en"),
    Person("dmitri", "", "dmitri@mastodon.example", None, "en"),
    Person("grace", "Grace O'Connor & co <3", "grace", f"grace.{B}", "en"),
    Person("max", "Max Müller", "max@example.org", f"max.{B}", "de"),
    Person("fatima", "Fatima Zahra 🌙", None, f"fatima.{B}", "fr"),
    Person("jun", "山本 純 (Jun)", "jun@social.example", None, "ja"),
    Person("ola", "Ola Nordmann", "ola", f"ola.{B}", "nb"),
    Person("riley", "Riley 🏳️‍🌈🏳️‍⚧️", None, f"riley.{B}", "en"),
    Person("marta", "Marta García-López", "marta@example.org", f"marta.{B}", "es"),
)
HOSTILE_CROWD: tuple[Person, ...] = (
    Person("mallory", "[bold red]Admin[/]", "mallory@evil.example", f"mallory.{B}", "en", hostile=True),
    Person("trent", "\u202eevil\u202c Trent", "trent@example.com", None, "en", hostile=True),
    Person("eve", "Eve\x1b[2J\x1b[31m", None, f"eve.{B}", "en", hostile=True),
)


def brand(key: str) -> Brand:
    for item in BRANDS:
        if item.key == key:
            return item
    raise KeyError(key)
