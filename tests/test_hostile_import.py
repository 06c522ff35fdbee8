"""`import-store` of a crafted old run store (issue 19, findings 5 and 6): each folder is imported or skipped on its
own with one sentence; JSON bounded in bytes and depth, numbers by the configs' own validation, metrics lines by
length while reading (memory measured in a child process), links never followed; an ordinary store where only some
runs have weights imports; and names that hold line breaks and quotes reach the take-home script only as literals.
"""
import io
import json
import tokenize
from pathlib import Path

import pytest
from memory import measure
from store_fixtures import BACKENDS, fresh_url

from explorer.cli import main
from explorer.store.records import Filter, run_slug
from explorer.store.runstore import RunStore
from explorer.store.untrusted import MAX_JSON_DEPTH, MAX_LINE_BYTES

MODEL = {"depth": 8, "in_channels": 1, "input_size": 8}
SPEC = {"kind": "twin", "data": {"name": "digits"}, "train": {"device": "cpu", "epochs": 1},
        "models": [{"name": "plain-8", "model": {**MODEL, "shortcut": "none"}}, {"name": "resnet-8", "model": MODEL}]}
SECRET = b"outside the old store: must never be copied in"


def _epoch(run: str, e: int) -> str:
    return json.dumps({"type": "epoch", "run": run, "epoch": e, "step": 4 * e, "test_error": 0.5}) + "\n"


def _folder(root: Path, name: str, spec: dict = SPEC, weights: tuple = ("plain-8",), **exp) -> Path:
    """One experiment folder as the file store wrote it; `weights`: the runs that have a final.pt."""
    d = root / name
    d.mkdir(parents=True)
    runs = [{"id": run_slug(m["name"]), "name": m["name"]} for m in spec["models"]]
    (d / "experiment.json").write_text(json.dumps({"id": name, "kind": "train", "spec": spec, "status": "completed",
                                                   "created": 10.0, "runs": runs, **exp}))
    for m in spec["models"]:
        run = d / run_slug(m["name"])
        run.mkdir()
        (run / "run.json").write_text(json.dumps({"id": run.name, "name": m["name"], "model": m["model"],
                                                  "status": "completed", "epochs": 1}))
        (run / "metrics.jsonl").write_text("".join(_epoch(m["name"], e) for e in range(2)))
        if m["name"] in weights:
            (run / "final.pt").write_bytes(b"weights of " + m["name"].encode())
    return d


def _hostile_store(root: Path, outside: Path) -> None:
    """Damaged folders first (they sort first), good ones after them."""
    (outside / "run").mkdir(parents=True)
    (outside / "run" / "final.pt").write_bytes(SECRET)
    (outside / "run" / "metrics.jsonl").write_text(_epoch("resnet-8", 7))
    (outside / "experiment.json").write_text(json.dumps({"id": "a-link-json", "spec": SPEC, "runs": []}))
    deep = root / "a-deep"
    deep.mkdir(parents=True)
    (deep / "experiment.json").write_text('{"id": "a-deep", "spec": ' + "[" * 200_000 + "]" * 200_000 + "}")
    _folder(root, "a-epochs", {**SPEC, "train": {"epochs": 10**30}})
    huge = _folder(root, "a-hugeint")  # an integer of 5,000 digits: past Python's own limit for reading one
    text = (huge / "experiment.json").read_text().replace('"epochs": 1', '"epochs": ' + "9" * 5000)
    (huge / "experiment.json").write_text(text)
    types = _folder(root, "a-types")  # models a string, the creation time a word
    record = json.loads((types / "experiment.json").read_text())
    (types / "experiment.json").write_text(json.dumps({**record, "spec": {**SPEC, "models": "resnet-8"},
                                                       "created": "yesterday"}))
    _folder(root, "a-nul", {**SPEC, "models": [{"name": "res\x00net", "model": MODEL}]})
    _folder(root, "a-runs", runs="resnet-8")
    (root / "a-link-folder").symlink_to(_folder(outside, "a-link-folder"), target_is_directory=True)
    (root / "a-link-json").mkdir()
    (root / "a-link-json" / "experiment.json").symlink_to(outside / "experiment.json")
    linked = _folder(root, "b-link-run", weights=())  # imported: its linked run folder is not read
    for child in (linked / "resnet-8").iterdir():
        child.unlink()
    (linked / "resnet-8").rmdir()
    (linked / "resnet-8").symlink_to(outside / "run", target_is_directory=True)
    parts = _folder(root, "b-parts", weights=("plain-8", "resnet-8"))  # link and long-line files in one run each
    (parts / "plain-8" / "metrics.jsonl").unlink()
    (parts / "plain-8" / "metrics.jsonl").symlink_to(outside / "run" / "metrics.jsonl")
    (parts / "plain-8" / "final.pt").unlink()
    (parts / "plain-8" / "final.pt").symlink_to(outside / "run" / "final.pt")
    (parts / "resnet-8" / "landscape.json").write_text("[" * 100 + "]" * 100)  # the app's reader has no depth check
    with open(parts / "resnet-8" / "metrics.jsonl", "a") as f:
        f.write('{"type": "epoch", "note": "' + "x" * (MAX_LINE_BYTES + 10) + '"}\n' + _epoch("resnet-8", 3))
    odd = _folder(root, "c-odd-values", started=1e300, finished="late", message=["not", "text"], owner=7)
    run = json.loads((odd / "resnet-8" / "run.json").read_text())
    (odd / "resnet-8" / "run.json").write_text(json.dumps({**run, "epochs": 10**30, "images_per_second": "fast",
                                                           "final": {"test_error": 10**400, "train_error": 0.5}}))
    (odd / "progress.json").write_text(json.dumps({"step": 10**400, "eta": 10**400, "message": "m\x00"}))
    _folder(root, "z-good")  # an ordinary old store: only plain-8 has weights
    _folder(root, "z-good-too", weights=())


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_folder_is_imported_or_skipped_with_one_sentence(backend, tmp_path, capsys):
    old, new = tmp_path / "old", tmp_path / "new"
    _hostile_store(old, tmp_path / "outside")
    url = fresh_url(backend)
    code = main(["import-store", str(old), "--runs-dir", str(new)] + (["--database-url", url] if url else []))
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert code == 0 and err == "" and "Traceback" not in out
    assert lines[-1].startswith("Imported 5 experiments (0 were already in the database); 8 damaged folders skipped")
    said = {line.split("'")[1]: line for line in lines[:-1]}
    assert f"nests deeper than {MAX_JSON_DEPTH} levels" in said["a-deep"]
    assert "epochs must be a whole number from 1 to 1,000; got 1000000000000000000000000000000" in said["a-epochs"]
    assert "is not valid JSON" in said["a-hugeint"]  # 5,000 digits: Python's own limit, one sentence
    assert "skipped: This experiment spec is incomplete or malformed" in said["a-types"]
    assert "a model name is not a string of 1 to 2,000 characters without NUL" in said["a-nul"]
    assert "its runs are not a list of records" in said["a-runs"]
    assert "it is a link, and links are never followed" in said["a-link-folder"]
    assert "experiment.json is a link" in said["a-link-json"]
    assert [line for line in lines if line.startswith("'b-link-run': run 'resnet-8' has a link for a folder")]
    assert [line for line in lines if "run 'plain-8': final.pt is a link" in line]
    assert [line for line in lines if "run 'plain-8': its metrics are skipped: metrics.jsonl is a link" in line]
    assert [line for line in lines if f"run 'resnet-8': its metrics are skipped: metrics.jsonl has a line longer "
                                      f"than {MAX_LINE_BYTES // 2**20} MiB" in line]
    assert [line for line in lines if f"run 'resnet-8': landscape.json nests deeper than {MAX_JSON_DEPTH}" in line]
    assert all(len(line) < 400 for line in lines)
    store = RunStore(new, url)
    try:
        imported = {e.id for e in store.page(Filter(kind=None)).items}
        assert imported == {"b-link-run", "b-parts", "c-odd-values", "z-good", "z-good-too"}
        odd = store.load_experiment("c-odd-values")  # values of the wrong type or out of range dropped, not the run
        assert (odd.started, odd.finished, odd.message, odd.owner) == (None, None, None, None)
        assert odd.run("resnet-8").epochs == 0 and odd.run("resnet-8").images_per_second is None
        assert odd.run("resnet-8").final.test_error is None and odd.run("resnet-8").final.train_error == 0.5
        assert odd.progress.step == 0 and odd.progress.eta is None and odd.progress.message == "m"
        good = store.load_experiment("z-good")
        assert [r.final_weights is not None for r in good.runs] == [True, False]  # only some runs have weights
        assert [m.epoch for m in store.read_metrics("z-good", "resnet-8")] == [0, 1]
        assert not store.load_experiment("z-good-too").runs[0].final_weights
        linked = store.load_experiment("b-link-run").run("resnet-8")
        assert linked.final_weights is None and store.read_metrics("b-link-run", "resnet-8") == []
        parts = store.load_experiment("b-parts")
        assert parts.run("plain-8").final_weights is None and store.read_metrics("b-parts", "plain-8") == []
        assert parts.run("resnet-8").final_weights and store.read_metrics("b-parts", "resnet-8") == []
    finally:
        store.close()
    assert not [p for p in new.rglob("*") if p.is_file() and SECRET in p.read_bytes()]  # nothing from outside
    code = main(["import-store", str(old), "--runs-dir", str(new)] + (["--database-url", url] if url else []))
    assert code == 0 and "Imported 0 experiments (5 were already in the database)" in capsys.readouterr().out


def test_a_metrics_line_of_3_gib_without_a_newline_keeps_memory_flat(tmp_path):
    """The probe's 3 GiB line took memory to 6.8 GB; a sparse file costs no disk and no time to write."""
    old = tmp_path / "old"
    run = _folder(old, "huge-line") / "resnet-8"
    with open(run / "metrics.jsonl", "r+b") as f:
        f.truncate(3 * 2**30)  # zeros after the good lines: no newline for 3 GiB
    result = measure(
        setup=f"""
            from pathlib import Path
            from explorer.store.importer import import_store
            from explorer.store.runstore import RunStore
            store = RunStore(Path({str(tmp_path / 'new')!r}))
        """,
        body=f"""
            result = import_store(Path({str(old)!r}), store)
            outcome["value"] = [result.imported, list(result.notes), len(store.read_metrics("huge-line", "resnet-8"))]
        """, headroom_mb=1024)
    assert result["error"] is None, result
    imported, notes, kept = result["value"]
    assert imported == 1 and kept == 0 and any("has a line longer than" in n for n in notes)
    assert result["growth_mb"] < 300, result


EVIL = ["a\nraise SystemExit('INJECTED newline')\n#", "b\rraise SystemExit('INJECTED return')\r#",
        "c'''\nraise SystemExit('INJECTED triple')\n'''", 'd"""\nraise SystemExit("INJECTED triple2")\n"""',
        "e\\\nraise SystemExit('INJECTED backslash')\n#", "f\u2028raise SystemExit('INJECTED u2028')\u2029#",
        "g\x0bh\x0ci\x85raise SystemExit('INJECTED vt ff nel')", "i " * 70 + "\nraise SystemExit('INJECTED long')\n#",
        "j\x00raise SystemExit('INJECTED nul')"]


def test_names_from_an_old_store_reach_the_take_home_script_only_as_literals(tmp_path, capsys, monkeypatch):
    """Finding 5 through import-store: a crafted folder name, model and run names (line breaks of every kind,
    quotes, triple quotes, backslashes, unicode separators); the script compiles, imports without running any of
    them, holds each name as a string, and no injected name is a token outside a string."""
    from test_takehome_parity import load_script
    folder_name = "exp\n'''\"\"\"\\\u2028\u2029\x0b\x0c\x85raise SystemExit('INJECTED folder')\n#"
    models = [{"name": name, "model": {**MODEL, "shortcut": "none" if i % 2 else "A"}}
              for i, name in enumerate(EVIL[:-1])]
    old, new = tmp_path / "old", tmp_path / "new"
    _folder(old, folder_name, {**SPEC, "kind": "compare", "models": models}, weights=())
    nul = _folder(old, "nul-name", {**SPEC, "models": [{"name": EVIL[-1], "model": MODEL}]}, weights=())
    assert main(["import-store", str(old), "--runs-dir", str(new)]) == 0
    out = capsys.readouterr().out
    assert "Imported 1 experiments" in out and "without NUL" in out and nul.name in out  # a NUL never gets in
    target = tmp_path / "takehome.py"
    assert main(["export", folder_name, "-o", str(target), "--runs-dir", str(new)]) == 0
    text = target.read_text(encoding="utf-8")
    compile(text, str(target), "exec")
    assert not any(c in text for c in "\r\x0b\x0c\x85\u2028\u2029\x00")  # every such character escaped
    tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    assert not [t for t in tokens if t.type == tokenize.NAME and t.string in ("SystemExit", "INJECTED")]
    assert not [t for t in tokens if t.type == tokenize.COMMENT and "INJECTED" in t.string]
    monkeypatch.chdir(tmp_path)
    exp = load_script(text, tmp_path, monkeypatch, name="hostile_takehome").the_experiment()  # runs no name
    assert exp.id == folder_name and [n for n, _ in exp.models] == EVIL[:-1]
