"""socialtui: round-the-clock care of brand accounts on social networks, from a terminal."""

__version__ = "0.1.0"
