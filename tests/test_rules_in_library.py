"""Rules that used to live in pages, now each in one place in the library: the experiment-kind dispatch, the one
status wording, and the one markdown escaper (the policy has tests/test_policy.py, the caps test_security_caps.py)."""
import pytest

from explorer.data.config import DataConfig
from explorer.jobs.status import FINISHED_WORDS, job_status, status_word
from explorer.nets.config import ModelConfig
from explorer.store.records import STATUSES, Experiment
from explorer.text import plain_text
from explorer.training import experiments as X
from explorer.training.recipes import TrainConfig

DATA, TRAIN = DataConfig("digits"), TrainConfig(epochs=1)


def test_each_kind_the_app_offers_builds_the_library_s_experiment():
    base = ModelConfig(depth=20, shortcut="B")
    assert X.for_kind("twin", base, DATA, TRAIN) == X.twin(base, DATA, TRAIN, shortcut="B")
    assert X.for_kind("sweep", base, DATA, TRAIN, depths=[20, 32]) == X.sweep(base, [20, 32], DATA, TRAIN, shortcut="B")
    assert X.for_kind("compare", base, DATA, TRAIN, placements=["original"], shortcuts=["A", "B"]) == \
        X.compare(base, DATA, TRAIN, placements=["original"], shortcuts=["A", "B"])
    bottleneck = ModelConfig(depth=29, block="bottleneck")  # a sweep varies the paper's basic CIFAR nets only
    assert {c.block for _, c in X.for_kind("sweep", bottleneck, DATA, TRAIN, depths=[20]).models} == {"basic"}


@pytest.mark.parametrize("kind, kw, words", [("sweep", {}, "depth"), ("compare", {"placements": ["original"]},
                                                                        "shortcut"), ("figure7", {}, "kind")])
def test_an_incomplete_request_is_one_sentence(kind, kw, words):
    with pytest.raises(ValueError, match=words):
        X.for_kind(kind, ModelConfig(), DATA, TRAIN, **kw)


@pytest.mark.parametrize("status", STATUSES)
def test_the_roster_s_word_is_the_word_the_job_status_starts_with(status):
    job = Experiment(id="e", kind="train", owner="ann", status=status, spec={})
    shown, word = job_status(job), status_word(status)
    assert shown.text.startswith(word) if status != "running" else shown.level == "progress" and word == "Running"
    assert status_word(None) == "No job yet" and all(status_word(s) == w for s, w in FINISHED_WORDS.items())


def test_a_name_markdown_cannot_misread_is_shown_as_it_is():
    assert plain_text("Ann") == "Ann" and plain_text("Which is deeper: plain-20 or plain-56?") == \
        "Which is deeper: plain-20 or plain-56?"


@pytest.mark.parametrize("text", ["www.evil.example", "**bold** [link](http://x) $x$ :red[x]", "a`b``c"])
def test_user_text_is_one_code_span_that_holds_it_exactly(text):
    shown = plain_text(text)
    fence = shown.split(" ", 1)[0]
    assert set(fence) == {"`"} and shown == f"{fence} {text} {fence}" and fence not in text
