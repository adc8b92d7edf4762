"""Durations as people write them: 90s, 5m, 1h, 250ms, or plain seconds."""
import re

from . import Usage

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}


def parse(s):
    """Seconds in s ("90s", "5m", "1.5h", "20"); Usage if it is not one."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*", s or "")
    if not m:
        raise Usage(f"{s!r} is not a duration (e.g. 90s, 5m, 1h)")
    return float(m.group(1)) * _UNITS[m.group(2)]
