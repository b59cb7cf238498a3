"""Where the dashboard's reads go: the streaming replica named by DATABASE_REPLICA_URL, or the
primary when there is none.

Only reads that may be a little stale are routed here (traffic stats, heatmaps, experiment
results, exports and hand-overs): a replica replays the primary's changes some milliseconds to
seconds late, and a page drawn from it shows the numbers of that slightly older moment.
Anything that must see its own writes (ingest, assign and convert, key and tenant lookups,
erasure) reads the primary through Django's default connection.
"""

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper

REPLICA = "replica"


def read_alias() -> str:
    """The database alias of the stale-tolerant reads."""
    return REPLICA if REPLICA in connections.settings else DEFAULT_DB_ALIAS


def read_connection() -> BaseDatabaseWrapper:
    return connections[read_alias()]
