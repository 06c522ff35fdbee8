"""`python -m explorer`: the JSON contract, names, exit codes. Tiny digits runs (64 images, 1-2 epochs)."""
import json
import math
import subprocess
import sys

import pytest

from explorer.cli import main
from explorer.store.runstore import RunStore

pytestmark = pytest.mark.usefixtures("torch_one_thread")

TINY = ["--train-subset", "64", "--test-subset", "64", "--epochs", "1", "--batch-size", "32"]
RUN_KEYS = {"id", "name", "depth", "shortcut", "placement", "status", "epochs", "images_per_second", "final"}
FINAL_KEYS = {"train_loss", "train_error", "test_loss", "test_error"}


def _check_contract(doc, runs_dir):
    assert isinstance(doc["experiment"], str) and (runs_dir / doc["experiment"]).is_dir()
    for run in doc["runs"]:
        assert set(run) == RUN_KEYS and set(run["final"]) == FINAL_KEYS
        exp_id, run_id = run["id"].split("/")
        assert exp_id == doc["experiment"]
        assert RunStore(runs_dir).load_experiment(exp_id).run(run_id).name == run["name"]
    names = [r["name"] for r in doc["runs"]]
    assert len(set(names)) == len(names)


def _run_main(argv, capsys):
    """main() in this process: (exit code, stdout, stderr)."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_train_compare_plain_prints_exactly_one_json_document(tmp_path, worker_env):
    runs_dir = tmp_path / "runs"
    proc = subprocess.run([sys.executable, "-m", "explorer", "train", "--compare-plain", "--depth", "8", *TINY,
                           "--runs-dir", str(runs_dir), "--json"], env=worker_env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)  # raises if stdout holds anything besides one JSON document
    _check_contract(doc, runs_dir)
    assert [(r["name"], r["depth"], r["shortcut"], r["placement"]) for r in doc["runs"]] == \
        [("plain-8", 8, "none", "original"), ("resnet-8", 8, "A", "original")]
    for run in doc["runs"]:
        assert run["status"] == "completed" and run["epochs"] == 1 and run["images_per_second"] > 0
        assert all(math.isfinite(v) for v in run["final"].values())
        assert 0 <= run["final"]["train_error"] <= 1 and 0 <= run["final"]["test_error"] <= 1
    assert "epoch   1  resnet-8" in proc.stderr  # progress goes to stderr


def test_sweep_names_plain_and_resnet_at_each_depth(tmp_path, capsys):
    code, out, _ = _run_main(["sweep", "--depths", "8,14", *TINY, "--runs-dir", str(tmp_path), "--json"], capsys)
    assert code == 0
    doc = json.loads(out)
    _check_contract(doc, tmp_path)
    assert [(r["name"], r["depth"], r["epochs"]) for r in doc["runs"]] == \
        [("plain-8", 8, 1), ("resnet-8", 8, 1), ("plain-14", 14, 1), ("resnet-14", 14, 1)]


@pytest.mark.parametrize("flags,expected", [
    (["--placements", "original,full_preact"], [("resnet-8-original", "A", "original"),
                                                ("resnet-8-full_preact", "A", "full_preact")]),
    (["--shortcuts", "A,B"], [("resnet-8-A", "A", "original"), ("resnet-8-B", "B", "original")]),
])
def test_compare_names_add_what_differs(tmp_path, capsys, flags, expected):
    code, out, _ = _run_main(["compare", *flags, "--depth", "8", *TINY, "--runs-dir", str(tmp_path), "--json"],
                             capsys)
    assert code == 0
    doc = json.loads(out)
    _check_contract(doc, tmp_path)
    assert [(r["name"], r["shortcut"], r["placement"]) for r in doc["runs"]] == expected


def test_epochs_counts_completed_epochs_and_text_output(tmp_path, capsys):
    code, out, err = _run_main(["train", "--depth", "8", *TINY[:-4], "--epochs", "2", "--runs-dir", str(tmp_path)],
                               capsys)
    assert code == 0 and "epoch   2  resnet-8" in err
    assert out.splitlines()[0].split()[:4] == ["resnet-8", "completed", "2", "epochs"]
    assert out.splitlines()[-1].startswith("Saved in ")


def test_diverged_runs_are_results_not_failures(tmp_path, capsys):
    # no BatchNorm and a learning rate of 10: the loss blows up within a few steps (deterministic on the CPU)
    code, out, err = _run_main(["train", "--compare-plain", "--depth", "8", "--norm", "none", "--lr", "10",
                                "--schedule", "constant", *TINY[:-4], "--epochs", "3", "--batch-size", "16",
                                "--runs-dir", str(tmp_path), "--json"], capsys)
    doc = json.loads(out)
    assert code == 0 and "diverged" in {r["status"] for r in doc["runs"]}
    assert doc["status"] in ("completed", "diverged") and "NaN" in err


@pytest.mark.parametrize("argv", [
    [],
    ["train", "--bogus"],
    ["train", "--depth", "9"],
    ["train", "--epochs", "0"],
    ["train", "--batch-size", "0"],
    ["train", "--lr", "-1"],
    ["train", "--shortcut", "Z"],
    ["train", "--dataset", "imagenet"],
    ["train", "--dataset", "folder"],
    ["train", "--dataset", "folder", "--data-path", "/no/such/folder"],
    ["sweep", "--depths", "8,x"],
    ["compare", "--shortcuts", "A,Z", "--depth", "8"],
])
def test_bad_arguments_exit_2_with_usage(argv, tmp_path, capsys):
    code, out, err = _run_main([*argv, "--runs-dir", str(tmp_path)] if argv else argv, capsys)
    assert code == 2 and err.startswith("usage: python -m explorer") and out == ""
    assert "Traceback" not in err and list(tmp_path.iterdir()) == []  # nothing was started


HUGE = "1" + "0" * 30
# every numeric option, each past its range as the library's validation states it (issue 19, finding 8)
NUMBERS = [("--depth", HUGE), ("--depth", "6" + "0" * 29 + "2"), ("--width", "1e308"), ("--width", "nan"),
           ("--train-subset", "0"), ("--test-subset", "-5"), ("--epochs", HUGE), ("--steps", HUGE),
           ("--batch-size", HUGE), ("--lr", "nan"), ("--lr", "1e400"), ("--momentum", "inf"), ("--weight-decay", "-1"),
           ("--warmup-epochs", "1e308"), ("--warmup-epochs", "nan"), ("--warmup-epochs", "-inf"),
           ("--label-smoothing", "nan"), ("--seed", "1e23"), ("--seed", HUGE), ("--seed", "-1")]
SCHEMES = ["ftp://example.invalid/artefacts", "http://127.0.0.1:9/artefacts", "sftp://example.invalid/x",
           "gopher://example.invalid/x", "simplecache::file:///tmp/x"]


@pytest.mark.parametrize("argv", [["train", f"{flag}={value}"] for flag, value in NUMBERS]
                         + [["sweep", "--depths", f"8,{HUGE}"]]
                         + [["train", "--artifacts-url", url] for url in SCHEMES])
def test_out_of_range_numbers_and_unusable_artefact_urls_are_one_sentence(argv, tmp_path, capsys):
    code, out, err = _run_main([argv[0], *TINY, *argv[1:], "--runs-dir", str(tmp_path)], capsys)
    sentence = err.strip().splitlines()[-1]
    assert code == 2 and err.startswith("usage: python -m explorer") and out == "" and "Traceback" not in err
    assert sentence.startswith("python -m explorer") and ": error: " in sentence and sentence.endswith(".") or \
        "invalid" in sentence  # argparse's own words for a number it cannot read ("invalid int value")
    assert list(tmp_path.iterdir()) == []  # nothing was started, no database made


def test_a_library_error_in_any_store_command_is_one_sentence(tmp_path, capsys):
    """import-store, export and resume build the store too: an unusable artefact URL, a missing old folder."""
    for argv in (["import-store", str(tmp_path)], ["export", "x"], ["resume", "x"]):
        code, out, err = _run_main([*argv, "--runs-dir", str(tmp_path), "--artifacts-url", "ftp://h/x"], capsys)
        assert code == 2 and "error: An artefact location must be a URL of file://" in err and "Traceback" not in err
    code, out, err = _run_main(["import-store", str(tmp_path / "absent")], capsys)
    assert code == 2 and err.strip().endswith(f"error: {tmp_path / 'absent'} is not a folder.")
    assert not (tmp_path / "absent").exists()


@pytest.mark.slow
def test_a_failing_experiment_exits_1(tmp_path, worker_env):
    """CIFAR-10 absent and no way to download it: the experiment fails, with one sentence on stderr."""
    env = dict(worker_env, http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9",
               HTTP_PROXY="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9", no_proxy="", NO_PROXY="")
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = subprocess.run([sys.executable, "-m", "explorer", "train", "--dataset", "cifar10", "--depth", "8",
                           "--data-dir", str(empty), "--runs-dir", str(tmp_path / "runs"), "--json", *TINY],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc["status"] == "failed" and [r["status"] for r in doc["runs"]] == ["failed"]
    error = proc.stderr.strip().splitlines()[-1]
    assert error.startswith("error: CIFAR-10 is not in") and str(empty) in error and "Traceback" not in proc.stderr


def _zero_init_by_placement(runs_dir, doc) -> dict:
    from explorer.store.runstore import RunStore
    models = [run.model for run in RunStore(runs_dir).load_experiment(doc["experiment"]).runs]
    return {(m["placement"], m["shortcut"]): m["zero_init_residual"] for m in models}


@pytest.mark.parametrize("placement, zero", [("full_preact", True), ("relu_before_add", False),
                                             ("bn_after_add", False)])
def test_sweep_zero_inits_only_where_the_placement_allows_it(placement, zero, tmp_path, capsys):
    code, out, _ = _run_main(["sweep", "--depths", "8", "--placement", placement, *TINY, "--runs-dir", str(tmp_path),
                              "--json"], capsys)
    assert code == 0
    assert _zero_init_by_placement(tmp_path, json.loads(out)) == {(placement, "none"): False, (placement, "A"): zero}


def test_compare_zero_inits_no_net_when_one_of_its_placements_cannot_use_it(tmp_path, capsys):
    from explorer.nets.config import PLACEMENTS, ZERO_INIT_REFUSED
    code, out, _ = _run_main(["compare", "--placements", ",".join(PLACEMENTS), "--depth", "8", "--zero-init-residual",
                              *TINY, "--runs-dir", str(tmp_path), "--json"], capsys)
    assert code == 0
    doc = json.loads(out)
    assert all(r["status"] == "completed" for r in doc["runs"])
    assert ZERO_INIT_REFUSED  # one initialisation rule for every net compared (issue 20): none, not some
    assert _zero_init_by_placement(tmp_path, doc) == {(p, "A"): False for p in PLACEMENTS}


def test_an_explicit_zero_init_on_a_placement_that_refuses_it_is_one_sentence(tmp_path, capsys):
    code, _, err = _run_main(["train", "--depth", "8", "--placement", "relu_before_add", "--zero-init-residual",
                              *TINY, "--runs-dir", str(tmp_path)], capsys)
    assert code == 2 and "zero_init_residual does not fit the relu_before_add placement" in err
