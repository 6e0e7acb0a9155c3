"""Cron schedules as Kubernetes reads them (robfig/cron's standard parser): five fields or a
descriptor. Returns what is wrong, or None."""

from __future__ import annotations

import re

DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
# robfig/cron's `@every <Go duration>`, e.g. @every 1h30m
_EVERY = re.compile(r"^@every\s+(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|\u00b5s|ms|s|m|h))+$")
_MONTHS = {m: i + 1 for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split())}
_DAYS = {d: i for i, d in enumerate("SUN MON TUE WED THU FRI SAT".split())}
# (name, low, high, names, `?` allowed)
FIELDS = (("minute", 0, 59, {}, False), ("hour", 0, 23, {}, False), ("day of month", 1, 31, {}, True),
          ("month", 1, 12, _MONTHS, False), ("day of week", 0, 6, _DAYS, True))


def _number(text: str, field) -> int:
    name, low, high, names, _ = field
    value = names.get(text.upper()) if text.isalpha() else (int(text) if text.isdigit() else None)
    if value is None:
        raise ValueError(f"{name}: {text!r} is not a number" + (" or a name" if names else ""))
    if not low <= value <= high:
        raise ValueError(f"{name}: {value} is outside {low}-{high}")
    return value


def _item(text: str, field) -> None:
    name, low, high, names, question = field
    base, slash, step = text.partition("/")
    if slash and (not step.isdigit() or int(step) < 1):
        raise ValueError(f"{name}: step {step!r} must be a whole number of at least 1")
    if base == "*" or (base == "?" and question):
        return
    start, dash, end = base.partition("-")
    first = _number(start, field)
    if dash and _number(end, field) < first:
        raise ValueError(f"{name}: range {base!r} runs backwards")


def problem(schedule: str) -> str | None:
    text = schedule.strip()
    if text.startswith(("TZ=", "CRON_TZ=")):
        return "a time zone inside the schedule is refused by Kubernetes; use the job's timeZone field"
    if text.startswith("@every"):
        if not _EVERY.match(text):
            return "@every takes a duration such as 30m or 1h30m"
        return None if re.search(r"[1-9]", text) else "@every needs a duration above zero"
    if text.startswith("@"):
        return None if text in DESCRIPTORS else f"unknown descriptor {text!r}; use five fields or one of {', '.join(DESCRIPTORS)}, @every <duration>"
    parts = text.split()
    if len(parts) != 5:
        return f"expected five fields (minute hour day-of-month month day-of-week), found {len(parts)}"
    try:
        for part, field in zip(parts, FIELDS):
            for item in part.split(","):
                if not item:
                    raise ValueError(f"{field[0]}: empty list item")
                _item(item, field)
    except ValueError as exc:
        return str(exc)
    return None
