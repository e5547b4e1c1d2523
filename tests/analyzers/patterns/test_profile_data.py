"""A learner's Profile as JSON data and back: what the result cache keeps of each file."""

from __future__ import annotations

import json

from analyzers.patterns.matcher import Occurrence
from analyzers.patterns.profile import Pending, Profile
from analyzers.patterns.profile_data import profile_from_data, profile_to_data

PROFILE = Profile(
    parsed=True,
    occurrences=(Occurrence("yaml_load", 4, "f", "yaml.load(…)"),),
    fix_counts={("f", "yaml_load"): 1},
    pending=(Pending("eq_none", "g", 9, "… == None", 2),))
#: A row as the result cache holds it.
STORED = ('{"parsed":true,"occurrences":[["yaml_load",4,"f","yaml.load(…)"]],'
          '"fix_counts":[["f","yaml_load",1]],"pending":[["eq_none","g",9,"… == None",2]]}')


def test_a_profile_round_trips_through_json() -> None:
    data = json.loads(json.dumps(profile_to_data(PROFILE)))
    assert profile_from_data(data) == PROFILE


def test_rows_written_earlier_are_read() -> None:
    assert profile_from_data(json.loads(STORED)) == PROFILE
    assert json.loads(STORED) == profile_to_data(PROFILE)


def test_what_is_not_a_profile_is_refused() -> None:
    good = profile_to_data(PROFILE)
    assert profile_from_data(None) is None
    assert profile_from_data({**good, "parsed": 1}) is None
    assert profile_from_data({**good, "occurrences": [["yaml_load", "4", "f", "x"]]}) is None
    assert profile_from_data({**good, "fix_counts": [["f", "yaml_load", True]]}) is None
    assert profile_from_data({**good, "pending": "no"}) is None
