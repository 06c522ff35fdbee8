"""explorer.jobs.request: the typed job request keeps the store's JSON shape and hashes, and round-trips.

Oracles: ExperimentSpec.to_dict()/spec_hash() (what every store written before JobRequest holds), and the landscape
spec hashed the way landscape_request hashed it before (the settings plus the source's data, sorted JSON).
"""
import dataclasses
import hashlib
import json

import pytest

from explorer.data.config import DataConfig
from explorer.jobs.landscape import landscape_request, landscape_spec
from explorer.jobs.manager import JobManager, Limits
from explorer.jobs.request import JobRequest, NamedModel
from explorer.jobs.worker import run_experiment
from explorer.nets.config import ModelConfig
from explorer.training import experiments
from explorer.training.recipes import TrainConfig

NET = ModelConfig(depth=8, in_channels=1, input_size=8, width=0.5)
DATA = DataConfig("digits", train_subset=64, test_subset=64)
RECIPE = TrainConfig(epochs=1, batch_size=32, device="cpu", log_every=1, seed=4)


def test_a_training_request_keeps_the_stores_json_and_hash_and_round_trips():
    spec = experiments.twin(NET, DATA, RECIPE)
    request = JobRequest.training(spec, "alice", class_id="c1")
    assert request.to_json() == spec.to_dict()  # no budget yet: exactly what older stores hold
    assert request.runs_json() == [{"name": n, "model": c.to_dict()} for n, c in spec.models]
    assert request.spec_hash() == spec.spec_hash()  # attaches to jobs submitted before JobRequest existed
    assert request.models == tuple(NamedModel(n, c) for n, c in spec.models) and request.seed == 4
    assert request.job_kind == "train" and request.experiment() == spec
    budgeted = dataclasses.replace(request, budget_s=60.0)
    assert budgeted.to_json() == {**spec.to_dict(), "budget_s": 60.0} and budgeted.spec_hash() == spec.spec_hash()
    back = JobRequest.from_json(json.loads(json.dumps(budgeted.to_json())), "alice")
    assert back.experiment() == spec and back.budget_s == 60.0 and back.owner == "alice"
    with pytest.raises(ValueError, match="recipe to train"):
        JobRequest("twin", request.models, DATA, "alice")  # a training kind without a recipe
    with pytest.raises(ValueError, match="incomplete or malformed"):
        JobRequest.from_json({"kind": "twin", "models": []})


def test_submit_takes_a_request_and_the_worker_reads_it_back(store):
    manager = JobManager(store, Limits(concurrent=0, queued_per_owner=5), background=False)  # queue only: run here
    try:
        request = JobRequest.training(experiments.twin(NET, DATA, RECIPE), "alice")
        exp_id, attached = manager.submit(request)
        assert not attached and manager.submit(dataclasses.replace(request, owner="bob")) == (exp_id, True)
        assert manager.submit(request, attach=False)[0] != exp_id  # attach=False always queues a new one
    finally:
        manager.shutdown()
    exp = store.load_experiment(exp_id)
    assert exp.owner == "alice" and exp.spec_hash == request.spec_hash() and exp.kind == "train"
    assert [(r.name, r.model) for r in exp.runs] == [(m.name, m.model.to_dict()) for m in request.models]
    stored = JobRequest.from_json(exp.spec, exp.owner)
    assert stored.experiment() == request.experiment() and stored.budget_s == manager.budget_s
    assert run_experiment(store, exp_id).status == "completed"


def test_a_landscape_request_hashes_as_before_and_round_trips(store):
    spec = experiments.twin(NET, DATA, RECIPE)
    exp_id = store.create_experiment(spec.to_dict(), JobRequest.training(spec, "me").runs_json(), owner="me")
    assert run_experiment(store, exp_id).status == "completed"
    settings = landscape_spec(exp_id, [r.id for r in store.load_experiment(exp_id).runs], steps=3, subset=8)
    request = landscape_request(store, settings, owner="me")
    before = {"kind": "landscape", "source": exp_id, "runs": ["plain-8", "resnet-8"], "steps": 3, "span": 1.0,
              "subset": 8, "seed": 0, "line_points": 21,  # what landscape_spec returned before, with the source's data
              "data": store.load_experiment(exp_id).spec["data"]}
    assert request.spec_hash() == hashlib.sha256(json.dumps(before, sort_keys=True, separators=(",", ":"))
                                                 .encode()).hexdigest()[:16]
    assert request.to_json() == before and request.job_kind == "landscape" and request.seed == 0
    assert [m.name for m in request.models] == ["plain-8", "resnet-8"] and request.landscape == settings
    back = JobRequest.from_json(json.loads(json.dumps(request.to_json())), "me", request.runs_json())
    assert back == request
    with pytest.raises(ValueError, match="not a training experiment"):
        request.experiment()
