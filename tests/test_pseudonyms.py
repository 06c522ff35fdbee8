"""Pseudonyms for the class screen: stable, distinct, by joining order (explorer.classroom.pseudonyms)."""
from explorer.classroom.pseudonyms import ANIMALS, pseudonyms
from explorer.classroom.records import Member


def test_pseudonyms_follow_joining_order_stay_stable_and_never_repeat():
    members = [Member("c", f"owner{i:02d}", f"Name {i}", joined=100.0 + i) for i in range(35)]
    names = pseudonyms(members)
    assert names["owner00"] == ANIMALS[0] and names["owner34"] == "Student 35"
    assert len(set(names.values())) == 35  # nobody shares a pseudonym
    assert pseudonyms(reversed(members)) == names  # the order members are listed in does not matter
    assert pseudonyms(members[:10]) == {o: names[o] for o in list(names)[:10]}  # a later joiner changes nobody's
    assert not any(m.name in names.values() for m in members)  # no real name leaks into a pseudonym
