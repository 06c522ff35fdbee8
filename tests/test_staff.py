"""A class's staff (explorer.classroom.staff): its creator is its teacher, co-teachers and TAs added by owner id or by
e-mail, invite links single-use, expiring and stored hashed; the policy then decides with those roles."""
import time

import pytest
import sqlalchemy as sa

from explorer.access.identity import owner_for
from explorer.access.policy import POLICY, Action, Actor, Role
from explorer.classroom import staff
from explorer.classroom import tables as t
from explorer.classroom.records import ClassError

ISS = "https://idp.school.example"


def test_the_creator_is_the_teacher_and_added_people_hold_their_roles(room):
    tess, tia, cole = owner_for(ISS, "tess"), owner_for(ISS, "tia"), owner_for(ISS, "cole")
    info, other = room.create(tess, "Physics"), room.create(owner_for(ISS, "olga"), "Chemistry")
    assert staff.class_role(room, info.id, tess) is Role.CLASS_TEACHER
    assert staff.class_role(room, info.id, tia) is None
    staff.add_staff(room, info.id, tia, Role.TA, by=tess)
    staff.add_staff(room, info.id, cole, "co_teacher", by=tess)
    assert staff.class_role(room, info.id, tia) is Role.TA
    assert staff.class_role(room, other.id, tia) is None  # one class, not every class
    assert staff.staff_classes(room, tess) == {info.id: Role.CLASS_TEACHER}
    assert staff.staff_classes(room, cole) == {info.id: Role.CO_TEACHER}
    staff.add_staff(room, info.id, tia, Role.CO_TEACHER)  # added again: the role changes, no second row
    assert [(m.owner, m.role) for m in staff.class_staff(room, info.id)] == [(tia, Role.CO_TEACHER),
                                                                            (cole, Role.CO_TEACHER)]
    staff.remove_staff(room, info.id, tia)
    assert staff.class_role(room, info.id, tia) is None
    with pytest.raises(ClassError, match="already the class's teacher"):
        staff.add_staff(room, info.id, tess, Role.TA)
    with pytest.raises(ClassError, match="co-teachers and teaching assistants only"):
        staff.add_staff(room, info.id, tia, Role.ADMIN)


def test_a_role_given_by_email_waits_for_that_person_to_sign_in(room):
    tess = owner_for(ISS, "tess")
    info = room.create(tess, "Physics")
    added = staff.add_staff_by_email(room, info.id, "  TIA@School.example ", Role.TA, by=tess)
    assert added.name == "tia@school.example" and added.by_email
    tia = owner_for(ISS, "tia-sub")  # signs in later: her owner id comes from her subject, the role from her e-mail
    assert staff.class_role(room, info.id, tia) is None
    assert staff.class_role(room, info.id, tia, email="tia@school.example") is Role.TA
    assert staff.class_role(room, info.id, tia, email="eve@school.example") is None
    for bad in ("not an address", "a@b@c", "<script>@x.org", "x" * 300 + "@a.org", None):
        with pytest.raises(ClassError, match="not an e-mail address"):
            staff.add_staff_by_email(room, info.id, bad, Role.TA)


def test_the_policy_with_staff_roles_from_the_store(room):
    tess, tia, ann = owner_for(ISS, "tess"), owner_for(ISS, "tia"), "a" * 32
    info, other = room.create(tess, "Physics"), room.create("b" * 32, "Other")
    staff.add_staff(room, info.id, tia, Role.TA)
    room.record_job(info.id, ann, "exp1", seed=1)
    ta = Actor(tia, classes=staff.staff_classes(room, tia))
    (where,) = staff.job_classes(room, "exp1")
    assert POLICY.allows(ta, Action.STOP, owner=ann, class_id=where)
    assert not POLICY.allows(ta, Action.DELETE_CLASS, class_id=info.id)
    assert not POLICY.allows(ta, Action.VIEW_CLASS, class_id=other.id)
    assert staff.job_classes(room, "a lone learner's job") == frozenset()


def test_deleting_a_class_takes_its_staff_and_invites_with_it(room):
    info = room.create("t" * 32, "Physics")
    staff.add_staff(room, info.id, "s" * 32, Role.TA)
    staff.create_invite(room, info.id, Role.TA)
    room.delete(info.id)
    counts = room.q(lambda c: [c.execute(sa.select(sa.func.count()).select_from(tb)).scalar_one()
                               for tb in (t.class_staff, t.class_invites)])
    assert counts == [0, 0]
    assert staff.staff_classes(room, "s" * 32) == {}


def test_an_invite_link_is_single_use_expires_and_is_stored_hashed(room):
    info = room.create("t" * 32, "Physics")
    token = staff.create_invite(room, info.id, Role.TA, by="t" * 32)
    stored = room.q(lambda c: c.execute(sa.select(t.class_invites)).all())
    assert len(stored) == 1 and token not in repr(stored[0]) and len(stored[0].token_hash) == 64
    assert staff.pending_invites(room, info.id) == 1
    got, role = staff.redeem_invite(room, token, "s" * 32)
    assert (got.id, role) == (info.id, Role.TA) and staff.class_role(room, info.id, "s" * 32) is Role.TA
    assert staff.pending_invites(room, info.id) == 0
    with pytest.raises(ClassError, match="used already"):
        staff.redeem_invite(room, token, "u" * 32)
    assert staff.class_role(room, info.id, "u" * 32) is None
    late = staff.create_invite(room, info.id, Role.CO_TEACHER, ttl_s=60)
    h = staff._token_hash(late)
    room.tx(lambda c: c.execute(t.class_invites.update().where(t.class_invites.c.token_hash == h)
                                .values(expires=time.time() - 1)))
    with pytest.raises(ClassError, match="expired"):
        staff.redeem_invite(room, late, "u" * 32)
    for bad in ("short", "x" * 200, "../../etc", None, "A" * 32):
        with pytest.raises(ClassError, match="not one this server made"):
            staff.redeem_invite(room, bad, "u" * 32)
    staff.create_invite(room, info.id, Role.TA)
    staff.revoke_invites(room, info.id)
    assert staff.pending_invites(room, info.id) == 0
