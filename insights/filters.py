"""The stats' filters: query parameters naming a value of a session dimension, for the admin
API and the dashboard alike. Parsed here, applied by insights.selectors.

A parameter that is absent or empty filters nothing. A value that no session can have (too
long for its column, a device or channel that does not exist, a country that is not two
capital letters, a control character) is refused as `invalid_field`, as is a parameter given
twice, rather than answered with zeros: it is a mistake in the query, not an empty range.
"""

from __future__ import annotations

import re

from django.http import QueryDict

from analytics.errors import invalid_field
from ingest.models import Session, SessionHour
from insights.selectors import Filters

# Query parameter -> the session dimension's column.
PARAMETERS = {
    "browser": "browser",
    "os": "os",
    "device": "device",
    "country": "country",
    "source": "source",
    "channel": "channel",
    "utmCampaign": "utm_campaign",
}
COLUMN_PARAMETERS = {column: parameter for parameter, column in PARAMETERS.items()}
CHOICES = {"device": list(Session.Device.values), "channel": list(Session.Channel.values)}
COUNTRY = re.compile(r"[A-Z]{2}")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def max_length(column: str) -> int:
    return SessionHour._meta.get_field(column).max_length


def _checked(parameter: str, column: str, value: str) -> str:
    if column in CHOICES and value not in CHOICES[column]:
        raise invalid_field(parameter, f"{value!r} is not one of: {', '.join(CHOICES[column])}.")
    if column == "country" and not COUNTRY.fullmatch(value):
        raise invalid_field(parameter, "must be an ISO 3166-1 alpha-2 code in capitals, such as US.")
    if len(value) > max_length(column):
        raise invalid_field(parameter, f"must be at most {max_length(column)} characters.")
    if CONTROL_CHARACTERS.search(value):
        raise invalid_field(parameter, "must not contain control characters.")
    return value


def parse_filters(query: QueryDict) -> dict[str, str]:
    """The filters a query asks for, by column; raises ApiError (400) for a bad one."""
    filters = {}
    for parameter, column in PARAMETERS.items():
        values = query.getlist(parameter)
        if len(values) > 1:
            raise invalid_field(parameter, "give it once; filters on one dimension cannot be combined.")
        if values and values[0]:
            filters[column] = _checked(parameter, column, values[0])
    return filters


def as_parameters(filters: Filters) -> dict[str, str]:
    """The filters as the query parameters (and the `filters` object of the answer) name them."""
    return {COLUMN_PARAMETERS[column]: value for column, value in filters.items()}
