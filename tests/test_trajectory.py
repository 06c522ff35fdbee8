"""The optimiser's path (Li et al. 2018, §7) on a short real run: the worker keeps a snapshot every epoch within
its budget; the PCA plane has orthonormal directions that explain most of the path; a landscape job of plane
"pca" draws the loss on that plane with the path on it.
"""
import pytest
import torch

from explorer.analysis.trajectory import path_surface, pca_plane
from explorer.data.config import DataConfig
from explorer.jobs.landscape import landscape_request, landscape_spec, read_landscapes
from explorer.jobs.landscape_job import run_landscape_job
from explorer.jobs.worker import run_experiment
from explorer.nets.config import ModelConfig
from explorer.store.checkpoints import load_run_model
from explorer.store.runstore import load_checkpoint
from explorer.store.snapshots import MAX_SNAPSHOTS, path_states, run_snapshots, snapshot_epochs
from explorer.training import experiments
from explorer.training.recipes import TrainConfig

pytestmark = pytest.mark.usefixtures("torch_one_thread")
EPOCHS = 5


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(store, exp id) of a plain-8/resnet-8 twin trained for 5 epochs on 256 digits."""
    from explorer.store.runstore import RunStore
    store = RunStore(tmp_path_factory.mktemp("runs"))
    recipe = TrainConfig(epochs=EPOCHS, batch_size=32, lr=0.05, schedule="constant", device="cpu", log_every=4)
    spec = experiments.twin(ModelConfig(depth=8, in_channels=1, input_size=8, width=0.5),
                            DataConfig("digits", train_subset=256, test_subset=64), recipe)
    exp_id = store.create_experiment(spec.to_dict(), [{"name": n, "model": c.to_dict()} for n, c in spec.models],
                                     owner="someone", spec_hash=spec.spec_hash())
    assert run_experiment(store, exp_id).status == "completed"
    return store, exp_id


def test_the_snapshot_budget():
    assert snapshot_epochs(15, 1_100_000) == set(range(1, 15))  # a small net: every epoch (the last is final.pt)
    big = snapshot_epochs(164, 7_000_000)  # ResNet-110 for the paper's 164 epochs: 64 MB of snapshots at most
    assert len(big) == 9 and min(big) >= 1 and max(big) <= 163
    assert len(snapshot_epochs(500, 1_000)) == MAX_SNAPSHOTS
    assert snapshot_epochs(1, 1_000) == set()


def test_a_run_keeps_a_snapshot_every_epoch_and_they_are_its_weights(trained):
    store, exp_id = trained
    for rid in ("plain-8", "resnet-8"):
        snaps = run_snapshots(store, exp_id, rid)
        assert [e for e, _ in snaps] == list(range(1, EPOCHS))
        epochs, states = path_states(store, exp_id, rid)
        assert epochs == list(range(EPOCHS)) and len(states) == EPOCHS
        final = load_checkpoint(store.weights_path(exp_id, rid, "final"))["state_dict"]
        assert not torch.equal(states[-1]["conv1.weight"], final["conv1.weight"])  # it moved in the last epoch
        assert torch.equal(states[0]["conv1.weight"],
                           load_checkpoint(store.weights_path(exp_id, rid, "init"))["state_dict"]["conv1.weight"])


def test_the_pca_plane_is_orthonormal_and_explains_the_path(trained):
    store, exp_id = trained
    _, states = path_states(store, exp_id, "resnet-8")
    final = load_checkpoint(store.weights_path(exp_id, "resnet-8", "final"))["state_dict"]
    plane = pca_plane(states, final)
    n_weights = sum(t.numel() for t in final.values() if t.dim() >= 2)
    assert plane["d1"].shape == plane["d2"].shape == (n_weights,)
    gram = torch.stack([plane["d1"], plane["d2"]]) @ torch.stack([plane["d1"], plane["d2"]]).T
    torch.testing.assert_close(gram, torch.eye(2), atol=1e-5, rtol=0)
    assert len(plane["alpha"]) == len(plane["beta"]) == EPOCHS
    assert plane["explained"][0] >= plane["explained"][1] > 0
    assert sum(plane["explained"]) >= 0.6  # Li et al.: two components capture a large share of the path
    with pytest.raises(ValueError, match="at least two saved weights"):
        pca_plane(states[:1], final)


def test_path_surface_puts_the_trained_net_at_the_origin(trained, tiny_digits):
    store, exp_id = trained
    net = load_run_model(store, exp_id, "resnet-8")
    _, states = path_states(store, exp_id, "resnet-8")
    from explorer.analysis.evaluation import loss_at
    from explorer.data.datasets import normalize
    x, y = normalize(tiny_digits.x_train, net.preprocessing), tiny_digits.y_train
    result = path_surface(net.model, states, x, y, steps=5, margin=0.0)
    assert len(result["loss"]) == 5 and all(len(r) == 5 and all(v is not None for v in r) for r in result["loss"])
    assert result["path"]["alpha"][-1] == 0.0 and len(result["path"]["alpha"]) == EPOCHS + 1
    assert min(result["alpha"]) == pytest.approx(min(result["path"]["alpha"]), abs=1e-6)  # margin 0: the path's extent
    assert max(result["beta"]) == pytest.approx(max(result["path"]["beta"] + [0.0]), abs=1e-6)
    assert net.model.conv1.weight.requires_grad and loss_at(net.model, x, y) > 0  # the caller's net still works


def test_a_pca_landscape_job_draws_the_path_for_both_nets(trained):
    store, exp_id = trained
    spec = landscape_spec(exp_id, ["plain-8", "resnet-8"], steps=5, subset=64, plane="pca")
    assert spec.to_json()["plane"] == "pca" and "plane" not in landscape_spec(exp_id, ["plain-8"]).to_json()
    request = landscape_request(store, spec, owner="someone")
    random = landscape_request(store, landscape_spec(exp_id, ["plain-8", "resnet-8"], steps=5, subset=64))
    assert request.spec_hash() != random.spec_hash()
    job = store.create_experiment(request.to_json(), request.runs_json(), owner=request.owner,
                                  spec_hash=request.spec_hash(), kind=request.job_kind)
    assert run_landscape_job(store, job).status == "completed"
    results = read_landscapes(store, job)
    assert set(results) == {"plain-8", "resnet-8"}
    for result in results.values():
        surface = result["surface"]
        assert surface["plane"] == "pca" and surface["path"]["epoch"] == [0, 1, 2, 3, 4, "final"]
        assert len(surface["loss"]) == 5 and result["line"] is None
    with pytest.raises(ValueError, match="plane"):
        landscape_spec(exp_id, ["plain-8"], plane="diagonal")


def test_path_surface_stops_when_asked_and_keeps_what_it_computed(trained, tiny_digits):
    store, exp_id = trained
    net = load_run_model(store, exp_id, "plain-8")
    _, states = path_states(store, exp_id, "plain-8")
    from explorer.data.datasets import normalize
    x, y = normalize(tiny_digits.x_train, net.preprocessing), tiny_digits.y_train
    asked = iter([False, False, False, True])
    result = path_surface(net.model, states, x, y, steps=3, should_stop=lambda: next(asked, True))
    assert result["stopped"] and [v is not None for v in result["loss"][0]] == [True, True, True]
    assert result["loss"][1] == [None, None, None]  # the cancel landed before the second row
