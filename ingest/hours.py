"""UTC hour arithmetic: the rollups count per hour, and the read side splits ranges on the
same boundaries."""

from __future__ import annotations

from datetime import datetime, timedelta


def floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def ceil_hour(moment: datetime) -> datetime:
    floor = floor_hour(moment)
    return floor if floor == moment else floor + timedelta(hours=1)
