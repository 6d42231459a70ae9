"""Choosing a field engineer: the customer's region first, then the fewest visits ahead, then
the id, so the same data always gives the same engineer."""

from activities.onsite import pick_field_engineer
from domain.onsite_contracts import FieldEngineer

BERLIN_ANNA = FieldEngineer(engineer_id="anna", engineer_name="Anna Berg", region="berlin")
BERLIN_BEN = FieldEngineer(engineer_id="ben", engineer_name="Ben Roth", region="berlin")
MUNICH_CARL = FieldEngineer(engineer_id="carl", engineer_name="Carl Huber", region="munich")
NOWHERE_DORA = FieldEngineer(engineer_id="dora", engineer_name="Dora Lind")
ALL = [MUNICH_CARL, BERLIN_BEN, NOWHERE_DORA, BERLIN_ANNA]


def test_an_engineer_of_the_customers_region_comes_first_even_when_busier() -> None:
    answer = pick_field_engineer(ALL, "munich", {"carl": 4})
    assert answer.engineer == MUNICH_CARL
    assert answer.why == "in the customer's region munich; 4 visit(s) ahead"


def test_within_the_region_the_fewest_visits_ahead_then_the_id_decide() -> None:
    assert pick_field_engineer(ALL, "berlin", {"anna": 2, "ben": 1}).engineer == BERLIN_BEN
    assert pick_field_engineer(ALL, "berlin", {}).engineer == BERLIN_ANNA
    assert pick_field_engineer(list(reversed(ALL)), "berlin", {}).engineer == BERLIN_ANNA


def test_without_a_region_match_or_a_region_the_least_busy_engineer_is_chosen() -> None:
    answer = pick_field_engineer(ALL, "hamburg", {"anna": 1, "ben": 1, "carl": 1})
    assert answer.engineer == NOWHERE_DORA
    assert answer.why == "nobody in the customer's region hamburg; 0 visit(s) ahead"
    unknown = pick_field_engineer(ALL, None, {"dora": 3})
    assert unknown.engineer == BERLIN_ANNA
    assert unknown.why is not None and unknown.why.startswith("the customer's region is unknown")


def test_nobody_to_send_is_an_answer_without_an_engineer() -> None:
    answer = pick_field_engineer([], "berlin", {})
    assert answer.engineer is None and answer.why == "no active field engineer"
