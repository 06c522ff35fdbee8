"""The class screen's library (explorer.classroom.screen, joinlink; explorer.figures.screen): what the teacher pushes
and how it is checked, snapshots as records, pseudonyms by default, the public join link's rules, a QR code that
decodes to it, and figure text at a size the back of a room reads. Records are written straight into the store: no
training."""
from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from explorer.classroom import questions as Q
from explorer.classroom import screen as S
from explorer.classroom import tables as t
from explorer.classroom.classes import student_seed
from explorer.classroom.joinlink import base_url, is_local_only, join_link, qr_png
from explorer.classroom.records import ClassError
from explorer.figures.classroom import class_figure6, projected
from explorer.figures.screen import for_screen, screen_text, snapshot_figure


def _class_with_runs(room, names=("Ann", "Bob", "Cy")):
    """A class whose members each have one finished two-net job with two epochs; returns (info, {name: exp id})."""
    info = room.create("teacher", "P3")
    exps = {}
    for i, name in enumerate(names):
        owner = f"{i:032x}"
        room.join(info.code, owner, name)
        exp = room.store.create_experiment({"kind": "sweep"}, [{"name": "plain-56", "model": {"depth": 56}},
                                                               {"name": "resnet-56", "model": {"depth": 56}}],
                                           owner=owner)
        for run, err in (("plain-56", 0.6), ("resnet-56", 0.1)):
            room.store.append_metrics(exp, run, [{"type": "epoch", "epoch": e, "train_error": err + 0.1 * (2 - e),
                                                  "test_error": err} for e in (1, 2)])
        room.record_job(info.id, owner, exp, student_seed(info.id, owner))
        exps[name] = exp
    return info, exps


def test_the_screen_shows_the_join_code_until_the_teacher_pushes_and_every_push_moves_its_version(room):
    info = room.create("teacher", "P3")
    assert S.screen_state(room, info.id) == S.ScreenState(info.id)  # nothing pushed: the join screen, names off
    first = S.push(room, info.id, "roster")
    q = Q.open_question(room, info.id, "Which is higher?", ["plain-20", "plain-56"])
    second = S.push(room, info.id, "question", question_id=q.id)
    assert (first.kind, first.version, second.kind, second.question_id, second.version) == \
        ("roster", 1, "question", q.id, 2)
    assert Q.class_questions(room, info.id)[0].revealed is None  # pushing a question reveals nothing
    revealed = S.push(room, info.id, "reveal", question_id=q.id)
    assert revealed.version == 3 and Q.class_questions(room, info.id)[0].revealed is not None
    named = S.show_names(room, info.id, True)
    assert named.names and named.kind == "reveal" and named.version == 4
    assert S.push(room, info.id, "lesson", lesson="fix").lesson == "fix"


@pytest.mark.parametrize("kind, payload, words", [
    ("banner", {}, "shows one of"), ("question", {}, "Pick a question"),
    ("question", {"question_id": "x" * 65}, "Pick a question"), ("question", {"question_id": "0" * 16}, "not one"),
    ("snapshot", {"snapshot_id": "../../etc"}, "Pick a snapshot"), ("lesson", {"lesson": "<script>"}, "lessons")])
def test_a_push_that_is_not_the_class_s_own_is_one_sentence_and_changes_nothing(room, kind, payload, words):
    info = room.create("teacher", "P3")
    with pytest.raises(ClassError, match=words):
        S.push(room, info.id, kind, **payload)
    assert S.screen_state(room, info.id).version == 0


def test_another_class_s_question_or_snapshot_cannot_be_pushed(room):
    mine, _ = _class_with_runs(room, ("Ann", "Bob"))
    theirs, exps = _class_with_runs(room, ("Cy", "Di"))
    q = Q.open_question(room, theirs.id, "Which?", ["a", "b"])
    snap = S.take_snapshot(room, theirs.id, [(exps["Cy"], "plain-56"), (exps["Di"], "resnet-56")])
    for kind, kw in (("question", {"question_id": q.id}), ("reveal", {"question_id": q.id}),
                     ("snapshot", {"snapshot_id": snap.id})):
        with pytest.raises(ClassError, match="not one of this class"):
            S.push(room, mine.id, kind, **kw)
    assert Q.class_questions(room, theirs.id)[0].revealed is None


def test_a_damaged_screen_row_reads_as_the_join_screen(room):
    info = room.create("teacher", "P3")
    S.push(room, info.id, "roster")
    for kind, payload in (("lesson", '{"lesson": "<img src=x>"}'), ("nonsense", "{}"), ("question", "[1, 2]"),
                          ("snapshot", "not json")):
        room.tx(lambda c, k=kind, p=payload: c.execute(t.class_screens.update().values(kind=k, payload=p)))
        state = S.screen_state(room, info.id)
        assert (state.kind, state.question_id, state.snapshot_id, state.lesson) == ("join", None, None, None)


def test_the_screen_s_poll_is_one_query(room):
    info = room.create("teacher", "P3")
    S.push(room, info.id, "roster")
    seen = []
    sa.event.listen(room.reader, "before_cursor_execute", lambda *a, **k: seen.append(a[2]))
    S.screen_state(room, info.id)
    assert len([s for s in seen if s.lstrip().upper().startswith("SELECT")]) == 1


def test_students_are_pseudonyms_on_the_screen_unless_names_are_on(room):
    info, _ = _class_with_runs(room, ("Ann", "Bob"))
    assert [r.label for r in S.screen_roster(room, info.id, S.screen_labels(room, info.id))] == ["Otter", "Falcon"]
    assert [r.label for r in S.screen_roster(room, info.id, S.screen_labels(room, info.id, names=True))] == \
        ["Ann", "Bob"]
    rows = S.screen_roster(room, info.id, S.screen_labels(room, info.id))
    assert {r.status for r in rows} == {"queued"} and set(S.ScreenRow.__dataclass_fields__) == \
        {"label", "status", "fraction"}  # progress only: no errors, seeds or owner ids reach the screen


def test_a_snapshot_keeps_2_to_4_of_the_class_s_runs_in_the_teacher_s_order(room):
    info, exps = _class_with_runs(room)
    picks = [(exps["Cy"], "resnet-56"), (exps["Ann"], "plain-56")]
    snap = S.take_snapshot(room, info.id, picks, "overlay")
    assert [(i.exp_id, i.run_id) for i in snap.items] == picks and snap.layout == "overlay"
    assert S.snapshots(room, info.id) == [snap] and S.snapshot(room, info.id, snap.id) == snap
    assert {(i.exp_id, i.run_id) for i in S.snapshot_choices(room, info.id)} == \
        {(e, r) for e in exps.values() for r in ("plain-56", "resnet-56")}
    version = S.snapshot_version(room, snap)
    assert len(version) == 2 and S.snapshot_version(room, snap) == version
    room.store.append_metrics(exps["Ann"], "plain-56", [{"type": "epoch", "epoch": 3, "train_error": 0.6}])
    assert S.snapshot_version(room, snap) != version  # a new epoch: the screen's cached figure is rebuilt
    panels = S.snapshot_panels(room, snap, S.screen_labels(room, info.id))
    assert [p.label for p in panels] == ["Badger: resnet-56", "Otter: plain-56"]
    assert [len(p.epochs) for p in panels] == [2, 3]
    for layout in S.LAYOUTS:
        fig = snapshot_figure(panels, layout)
        shown = {tr.name for tr in fig.data if tr.showlegend is not False}
        assert shown == ({"Badger: resnet-56", "Otter: plain-56"} if layout == "overlay"
                         else {"training error", "test error"})
        first = next(tr for tr in fig.data if tr.x != (None,))
        assert [pytest.approx(y) for y in first.y] == [20.0, 10.0]  # Badger's (Cy's) run first, as picked
    assert S.snapshot_takeaway(panels) == "Otter: plain-56 ends at 60.0% training error; Badger: resnet-56 at 10.0%."


@pytest.mark.parametrize("picks, layout, words", [
    ([("Ann", "plain-56")], "side", "2 to 4"), ([("Ann", "plain-56")] * 2, "side", "2 to 4"),
    ([("Ann", "plain-56"), ("Bob", "plain-56"), ("Cy", "plain-56"), ("Ann", "resnet-56"), ("Bob", "resnet-56")],
     "side", "2 to 4"),
    ([("Ann", "plain-56"), ("Bob", "plain-56")], "stacked", "side by side"),
    ([("Ann", "plain-56"), ("Bob", "plain-110")], "side", "only runs of this class")])
def test_a_bad_snapshot_is_one_sentence_and_keeps_nothing(room, picks, layout, words):
    info, exps = _class_with_runs(room)
    with pytest.raises(ClassError, match=words):
        S.take_snapshot(room, info.id, [(exps[w], r) for w, r in picks], layout)
    assert S.snapshots(room, info.id) == []


def test_a_lone_user_s_run_is_not_the_class_s_to_snapshot(room):
    info, exps = _class_with_runs(room, ("Ann", "Bob"))
    lone = room.store.create_experiment({"kind": "sweep"}, [{"name": "plain-56", "model": {}}], owner="x" * 32)
    with pytest.raises(ClassError, match="only runs of this class"):
        S.take_snapshot(room, info.id, [(exps["Ann"], "plain-56"), (lone, "plain-56")])


def test_deleting_a_class_deletes_its_screen_and_snapshots(room):
    info, exps = _class_with_runs(room, ("Ann", "Bob"))
    S.take_snapshot(room, info.id, [(exps["Ann"], "plain-56"), (exps["Bob"], "plain-56")])
    S.push(room, info.id, "roster")
    room.delete(info.id)
    for table in (t.class_screens, t.class_snapshots):
        assert room.q(lambda c, tb=table: c.execute(sa.select(sa.func.count()).select_from(tb)).scalar_one()) == 0


def test_hostile_run_names_and_pseudonyms_stay_plain_text_in_a_snapshot_chart(room):
    info, exps = _class_with_runs(room, ("Ann", "Bob"))
    snap = S.take_snapshot(room, info.id, [(exps["Ann"], "plain-56"), (exps["Bob"], "resnet-56")])
    panels = S.snapshot_panels(room, snap, {f"{0:032x}": "<b>Ann</b>", f"{1:032x}": "x&y"})
    fig = snapshot_figure(panels, "overlay", title="<i>t</i>")
    assert {tr.name for tr in fig.data} == {"&lt;b&gt;Ann&lt;/b&gt;: plain-56", "x&amp;y: resnet-56"}
    assert "<i>" not in fig.layout.title.text


# ----------------------------------------------------------------------------- the public join link
def test_the_public_url_builds_the_join_link_and_a_bad_one_is_ignored_with_one_sentence():
    env = {"EXPLORER_PUBLIC_URL": "https://resnet.school.example/physics/"}
    link = join_link("ABC234", env, "http://localhost:8501/class", {})
    assert (link.url, link.local_only, link.source, link.problem) == \
        ("https://resnet.school.example/physics/?join=ABC234", False, "EXPLORER_PUBLIC_URL", None)
    for bad in ("javascript:alert(1)", "https://user:pw@host/", "https://host/?x=1", "ftp://host", "https://"):
        link = join_link("ABC234", {"EXPLORER_PUBLIC_URL": bad}, "http://10.0.0.5:8501/class", {})
        assert link.url == "http://10.0.0.5:8501/?join=ABC234" and "ignored" in link.problem


def test_forwarded_headers_count_only_behind_the_deployment_s_proxy():
    headers = {"x-forwarded-host": ["evil.example, resnet.school.example"], "x-forwarded-proto": ["https"]}
    direct = join_link("ABC234", {}, "http://localhost:8501/class", headers, trusted_hops=0)
    assert direct.url == "http://localhost:8501/?join=ABC234" and direct.local_only and direct.source == "browser"
    proxied = join_link("ABC234", {}, "http://localhost:8501/class", headers, trusted_hops=1)
    assert (proxied.url, proxied.local_only, proxied.source) == \
        ("https://resnet.school.example/?join=ABC234", False, "proxy")
    hostile = {"x-forwarded-host": ["a.example/<script>"], "x-forwarded-proto": ["javascript"]}
    assert join_link("ABC234", {}, "http://192.168.1.20:8501/", hostile, trusted_hops=1).url == \
        "http://192.168.1.20:8501/?join=ABC234"


@pytest.mark.parametrize("url, local", [("http://localhost:8501", True), ("http://127.0.0.7", True),
                                        ("http://[::1]:8501", True), ("http://0.0.0.0:8501", True),
                                        ("http://app.localhost", True), ("http://192.168.1.20:8501", False),
                                        ("https://resnet.school.example", False)])
def test_a_link_only_this_machine_can_open_is_marked(url, local):
    assert base_url(url) == url and is_local_only(url) is local


def test_the_qr_code_decodes_to_the_join_link():
    zxingcpp = pytest.importorskip("zxingcpp", reason="needs zxing-cpp (requirements-dev.txt)")
    from PIL import Image
    url = "https://resnet.school.example/physics/?join=ABC234"
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr_png(url))))
    assert [r.text for r in found] == [url]


# ----------------------------------------------------------------------------- text a room can read
def _texts(fig) -> dict:
    """Every text size the figure sets explicitly: ticks and titles of every axis, legend, subplot titles."""
    lay = fig.layout
    sizes = {"legend": lay.legend.font.size, "font": lay.font.size}
    for name in [k for k in lay if k.startswith(("xaxis", "yaxis"))]:
        sizes[f"{name} ticks"] = lay[name].tickfont.size
        sizes[f"{name} title"] = lay[name].title.font.size
    sizes.update({f"annotation {i}": a.font.size for i, a in enumerate(lay.annotations)})
    return sizes


def test_every_chart_text_reaches_the_screen_size_and_projector_mode_grows_ticks_and_legends_too():
    fig = class_figure6({"plain-20": [[{"type": "epoch", "epoch": 1, "train_error": 0.3, "test_error": 0.3}]]})
    assert fig.layout.xaxis.tickfont.size is None  # as drawn normally: Streamlit's theme decides (12-14 px)
    assert min(_texts(for_screen(fig, 800)).values()) >= 20
    assert fig.layout.xaxis.tickfont.size is None  # for_screen works on a copy
    big = projected(fig, 1.6)
    assert min(_texts(big).values()) >= 16 * 1.6 - 1e-9
    assert screen_text(screen_text(big, 24), 24).layout.margin == screen_text(big, 24).layout.margin
    bands = [t.line.width for t in for_screen(fig, 800).data if t.fill == "toself"]
    assert bands and set(bands) == {0}  # a spread's outline stays invisible on the screen


def test_the_class_figure_s_second_title_line_is_markup_and_the_pool_s_text_is_plain():
    fig = class_figure6({"plain-20": [[{"type": "epoch", "epoch": 1, "train_error": 0.3, "test_error": 0.3}]]},
                        pool="digits <b>x</b>", others=1)
    assert fig.layout.title.text.endswith("<br><sup>digits &lt;b&gt;x&lt;/b&gt;; 1 sweep of another dataset or "
                                          "recipe left out</sup>")
