"""UTC hour arithmetic: the rollups' unit of time, shared by the write and the read side."""

from datetime import datetime, timedelta


def floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def ceil_hour(moment: datetime) -> datetime:
    floor = floor_hour(moment)
    return floor if floor == moment else floor + timedelta(hours=1)
