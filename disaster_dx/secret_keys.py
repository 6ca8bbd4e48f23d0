"""``SECRET_KEY``: how strong a given key is, and the one development key every worker shares.

Production refuses a key whose estimated strength is under 128 bits. The estimate is
deliberately simple and errs on the side of refusing: each character is worth the bits of the
alphabet the key draws from (16 for hex, 26 per letter case, 10 for digits, 33 for ASCII
symbols), and characters that continue a pattern — a run (``aaaa``), a sequence (``abcd``,
``4321``) or a four-character chunk seen earlier in the key (``changemechangeme``) — are worth
nothing. Known examples (the placeholder of our own README, ``changeme``…) are refused by name.
A key from ``secrets.token_hex(32)`` or ``secrets.token_urlsafe(32)`` is about 256 bits.

In development the key is made once into ``DATA_DIR/secret_key`` (mode 0600) and read by every
worker: several gunicorn workers with a key each would refuse each other's cookies, so half of
all logins failed. The file appears atomically (written under a temporary name, then
hard-linked to its name, which fails if another worker was first), so no worker ever reads a
half-written key.
"""

from __future__ import annotations

import itertools
import math
import os
import secrets
import stat
from pathlib import Path

from disaster_dx.errors import ConfigError

#: The minimum estimated strength of a production key.
MIN_BITS = 128
#: A character continues a pattern when the window of this many characters ending at it does.
_WINDOW = 4
KEY_FILE = "secret_key"

#: Values people copy from documentation and examples, compared case-insensitively.
KNOWN_EXAMPLES = frozenset(
    {
        "",
        "change-me",
        "changeme",
        "change_me",
        "secret",
        "secret-key",
        "secretkey",
        "your-secret-key",
        "your_secret_key",
        "dev",
        "development",
        "production",
        "password",
        "<python -c 'import secrets; print(secrets.token_hex(32))'>",
        "python -c 'import secrets; print(secrets.token_hex(32))'",
        "$(python -c 'import secrets; print(secrets.token_hex(32))')",
    }
)

_HEX = frozenset("0123456789abcdef")
_SYMBOLS = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ ")


def _alphabet_bits(key: str) -> float:
    """Bits per character of the smallest usual alphabet ``key`` is drawn from."""
    if set(key.lower()) <= _HEX and (key == key.lower() or key == key.upper()):
        return 4.0
    size = 0
    size += 26 if any("a" <= c <= "z" for c in key) else 0
    size += 26 if any("A" <= c <= "Z" for c in key) else 0
    size += 10 if any(c.isascii() and c.isdigit() for c in key) else 0
    size += 33 if any(c in _SYMBOLS for c in key) else 0
    size += 100 if any(not c.isascii() for c in key) else 0
    return math.log2(max(size, 2))


def _continues_pattern(key: str, end: int) -> bool:
    """Whether the character at ``end`` is predictable from the ones before it."""
    window = key[end - _WINDOW + 1 : end + 1]
    steps = {ord(b) - ord(a) for a, b in itertools.pairwise(window)}
    if len(steps) == 1 and steps <= {-1, 0, 1}:
        return True  # a run or a sequence
    return window in key[:end]  # a chunk met before (a repeated word)


def estimated_bits(key: str) -> float:
    """A cautious estimate of how many bits of randomness ``key`` holds (see the module)."""
    free = sum(1 for i in range(len(key)) if i < _WINDOW - 1 or not _continues_pattern(key, i))
    return free * _alphabet_bits(key)


def weakness(key: str) -> str | None:
    """Why ``key`` is too weak for production, in words, or ``None`` when it is strong enough."""
    if key.strip().lower() in KNOWN_EXAMPLES:
        return "it is an example value from documentation"
    bits = estimated_bits(key)
    if bits < MIN_BITS:
        return f"it holds about {bits:.0f} bits of randomness (at least {MIN_BITS} are needed)"
    return None


def check_production_key(key: str) -> None:
    """Refuse a weak production key with what to do instead (:class:`ConfigError`)."""
    problem = weakness(key)
    if problem is not None:
        raise ConfigError(
            f"SECRET_KEY is too weak for production: {problem}. Set it to a random value, "
            "e.g. the output of: python -c 'import secrets; print(secrets.token_hex(32))'"
        )


def development_key(data_dir: Path) -> str:
    """The development key in ``data_dir``, made once (mode 0600) and shared by all workers."""
    path = data_dir / KEY_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        temporary = data_dir / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(handle, (secrets.token_hex(32) + "\n").encode("ascii"))
            os.fsync(handle)
        finally:
            os.close(handle)
        try:
            os.link(temporary, path)  # atomic; fails when another worker was first
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    info = path.stat()
    if stat.S_IMODE(info.st_mode) & 0o077:
        raise ConfigError(
            f"{path} can be read by other users (mode {stat.S_IMODE(info.st_mode):o}); "
            f"run: chmod 600 {path}"
        )
    key = path.read_text(encoding="ascii").strip()
    if weakness(key) is not None:
        raise ConfigError(f"{path} does not hold a usable key; delete it to make a new one")
    return key
