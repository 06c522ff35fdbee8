"""The debrief of a class of N after a lesson: how long the teacher waits after clicking the download, and its size.

Writes a class into a fresh run store (no training): N members, each with a finished seeded Figure 6 sweep of the
digits recipe's length (epoch records and finals written as a worker writes them), a Figure 6 question everyone
answered and a lesson prediction; then times explorer.classroom.debrief.gather, explorer.figures.debrief.debrief_html
and csv_text, each --repeat times (the median), as the Class page's two download buttons run them.

    python benchmarks/bench_debrief.py [--students 30] [--repeat 3]

Prints a markdown block for docs/classroom.md.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_class(root: pathlib.Path, students: int):  # -> (Classroom, class id)
    from explorer.classroom import questions as Q
    from explorer.classroom.classes import Classroom, seeded_spec
    from explorer.classroom.lessons import lesson
    from explorer.data.config import DataConfig
    from explorer.store.runstore import RunStore
    from explorer.training.experiments import figure6
    from explorer.training.recipes import train_config_for
    room = Classroom(RunStore(root / "runs"))
    info = room.create("teacher", "Period 3")
    train = train_config_for("digits")
    asked = Q.open_question(room, info.id, "Which ends with the higher training error?", ["plain-20", "plain-56"])
    for i in range(students):
        owner = f"student-{i:02d}"
        room.join(info.code, owner, f"Student name {i}")
        spec = seeded_spec(figure6(DataConfig("digits"), train), info.id, owner)
        exp = room.store.create_experiment(spec.to_dict(), [{"name": n, "model": c.to_dict()} for n, c in spec.models],
                                           owner=owner)
        for name, _ in spec.models:
            end = 0.5 + 0.01 * (i % 7) if name == "plain-56" else 0.02
            records = [{"type": "epoch", "run": name, "epoch": e, "train_error": end + (0.9 - end) / e,
                        "test_error": end + 0.02 + (0.9 - end) / e} for e in range(1, train.epochs + 1)]
            room.store.append_metrics(exp, name, records)
            room.store.update_run(exp, name, status="completed", final={"train_error": records[-1]["train_error"],
                                                                         "test_error": records[-1]["test_error"]})
        room.store.update_experiment(exp, status="completed")
        room.record_member_job(info.id, owner, exp)
        Q.answer(room, asked, owner, "plain-56" if i % 4 else "plain-20")
        Q.answer(room, Q.lesson_question(room, info.id, lesson("degradation")), owner, "plain-56")
    return room, info.id


def main() -> None:
    from benchmarks.machine import cpu_name
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from explorer.classroom.debrief import csv_text, gather
    from explorer.figures.debrief import debrief_html
    with tempfile.TemporaryDirectory() as tmp:
        room, class_id = make_class(pathlib.Path(tmp), args.students)
        times: dict[str, list[float]] = {"gather": [], "html": [], "csv": []}
        page = ""
        for _ in range(args.repeat):
            t = time.perf_counter()
            debrief = gather(room, class_id)
            times["gather"].append(time.perf_counter() - t)
            t = time.perf_counter()
            page = debrief_html(debrief)
            times["html"].append(time.perf_counter() - t)
            t = time.perf_counter()
            csv_text(gather(room, class_id))
            times["csv"].append(time.perf_counter() - t)
        room.close_engines()
    load = os.getloadavg()
    print(f"{args.students} students, {cpu_name()}, {os.cpu_count()} cores, load average {load[0]:.1f} "
          f"{load[1]:.1f} {load[2]:.1f}, median of {args.repeat}:\n")
    print("| step | seconds |\n|---|---|")
    print(f"| gather the class's records | {statistics.median(times['gather']):.2f} |")
    print(f"| build the HTML page (Figure 6, tallies) | {statistics.median(times['html']):.2f} |")
    print(f"| the CSV (gathering included) | {statistics.median(times['csv']):.2f} |")
    print(f"\nThe page: {len(page.encode()) / 1e6:.1f} MB.")


if __name__ == "__main__":
    main()
