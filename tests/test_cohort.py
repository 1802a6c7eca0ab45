"""Training sessions together as a cohort gives what training each one alone gives."""

import math

import pytest
import torch

from backend.config import TrainConfig
from backend.core.data import TextDataset
from backend.core.training import Trainer
from backend.engine.cohort import Cohort, cell_step, cohort_key, fused_cells_work
from backend.store import checkpoints
from backend.tasks.text.task import TextTask

TEXT = "the cat sat on the mat. the dog sat on the log. " * 20
TINY = TrainConfig(hidden_size=8, num_layers=2, seq_len=8, batch_size=4)
# Members differ in seed, learning rate and clipping, as a class's forks would.
MEMBERS = [
    {"seed": 1},
    {"seed": 2, "learning_rate": 1e-2, "clip": False},
    {"seed": 3, "learning_rate": 3e-2, "clip_threshold": 0.05},
]


def make(dataset: TextDataset, **changes) -> Trainer:
    return Trainer(TextTask(dataset), TINY.replace(**changes))


def pairs(**shared) -> tuple[list[Trainer], list[Trainer]]:
    """Two identical sets of trainers: one to train alone, one to train as a cohort."""
    dataset = TextDataset.from_text(TEXT)
    alone = [make(dataset, **m, **shared) for m in MEMBERS]
    together = [make(dataset, **m, **shared) for m in MEMBERS]
    return alone, together


def assert_same_weights(a: Trainer, b: Trainer, atol: float = 1e-4) -> None:
    """Equal up to float rounding, which Adam and RMSprop magnify where a gradient is near 0.

    They move a weight by about lr * g / (|g| + eps): for |g| ~ 1e-10 (after tight clipping)
    a rounding difference in g changes that step by up to ~lr / 1000. SGD agrees to 1e-8.
    """
    for (name, p), q in zip(a.model.named_parameters(), b.model.parameters(), strict=True):
        assert torch.allclose(p, q, atol=atol), f"{name} differs by {(p - q).abs().max():.2e}"


@pytest.mark.parametrize(
    ("model", "activation"), [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
)
def test_each_member_gets_exactly_its_own_gradient(model, activation):
    _, together = pairs(model=model, activation=activation, num_layers=2)
    cohort = Cohort(together)
    batches = [
        t.dataset.batch(4, 8, torch.Generator().manual_seed(s)) for s, t in enumerate(together)
    ]
    xs, ys = zip(*batches, strict=True)
    losses, grad = cohort.gradients(torch.stack(xs), torch.stack(ys))
    for s, trainer in enumerate(together):
        logits, _ = trainer.model(xs[s])
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), ys[s].flatten())
        expected = torch.autograd.grad(loss, list(trainer.model.parameters()))
        assert math.isclose(losses[s].item(), loss.item(), rel_tol=1e-6)
        for (name, sl), g in zip(cohort.slices.items(), expected, strict=True):
            got = grad[s, sl.offset : sl.end].view(sl.shape)
            assert torch.allclose(got, g, rtol=1e-4, atol=1e-7), name


@pytest.mark.parametrize(
    ("model", "activation", "optimizer"),
    [
        ("lstm", "tanh", "adam"),
        ("gru", "tanh", "adam"),
        ("rnn", "tanh", "sgd"),
        ("rnn", "relu", "rmsprop"),
        ("lstm", "tanh", "rmsprop"),
        ("gru", "tanh", "sgd"),
    ],
)
def test_cohort_training_equals_training_each_alone(model, activation, optimizer):
    alone, together = pairs(model=model, activation=activation, optimizer=optimizer)
    start = [[p.detach().clone() for p in t.model.parameters()] for t in alone]
    cohort = Cohort(together)
    for _ in range(6):
        expected = [t.step() for t in alone]
        got = cohort.step()
        for e, g in zip(expected, got, strict=True):
            assert g.step == e.step and g.items == e.items and g.clipped == e.clipped
            assert math.isclose(g.loss, e.loss, rel_tol=1e-5)
            assert math.isclose(g.grad_norm, e.grad_norm, rel_tol=1e-4)
    assert any(r.clipped for r in got)  # the tight threshold really clipped
    for a, b, before in zip(alone, together, start, strict=True):
        params = zip(a.model.parameters(), before, strict=True)
        moved = max((p - q).abs().max().item() for p, q in params)
        assert_same_weights(a, b, atol=1e-3 * moved)  # members' own models saw every update
        assert b.step_count == a.step_count and b.items_seen == a.items_seen


def test_leaving_the_cohort_hands_back_optimizer_state_that_trains_on_identically():
    alone, together = pairs()
    for trainer in (alone[0], together[0]):  # one member has trained alone before joining
        for _ in range(3):
            trainer.step()
    cohort = Cohort(together)
    for _ in range(4):
        cohort.step()
        for t in alone:
            t.step()
    cohort.dissolve()
    for a, b in zip(alone, together, strict=True):
        for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True):
            sa, sb = a.optimizer.state[p], b.optimizer.state[q]
            assert float(sb["step"]) == float(sa["step"])
            assert torch.allclose(sa["exp_avg_sq"], sb["exp_avg_sq"], atol=1e-6)
        for _ in range(3):  # and goes on alone exactly as the one that never joined
            assert math.isclose(a.step().loss, b.step().loss, rel_tol=1e-4)
        assert_same_weights(a, b)
    # The members no longer share memory with the cohort's stacked weights.
    before = [p.clone() for p in together[1].model.parameters()]
    cohort.theta.data.add_(1.0)
    assert all(
        torch.equal(p, q) for p, q in zip(before, together[1].model.parameters(), strict=True)
    )


def test_a_member_whose_gradient_overflows_skips_its_update_and_the_others_do_not():
    alone, together = pairs()
    for trainer in (alone[1], together[1]):
        with torch.no_grad():
            trainer.model.head.bias[0] = math.inf  # every loss and gradient is now nan
    frozen = [p.clone() for p in together[1].model.parameters()]
    cohort = Cohort(together)
    results = cohort.step()
    for t in alone:
        t.step()
    assert not math.isfinite(results[1].grad_norm)
    for p, q in zip(frozen, together[1].model.parameters(), strict=True):
        assert torch.equal(p, q)
    assert_same_weights(alone[0], together[0])
    assert_same_weights(alone[2], together[2])


def test_a_checkpoint_of_a_member_resumes_exactly(tmp_path):
    alone, together = pairs()
    cohort = Cohort(together)
    for _ in range(3):
        cohort.step()
    cohort.store_optimizer(2)
    checkpoints.save(together[2], tmp_path / "member.safetensors")
    resumed = make(together[2].dataset, **MEMBERS[2])
    checkpoints.restore(resumed, tmp_path / "member.safetensors")
    assert resumed.step_count == 3
    next_in_cohort = cohort.step()[2]
    assert math.isclose(resumed.step().loss, next_in_cohort.loss, rel_tol=1e-4)
    assert_same_weights(resumed, together[2])


def test_batches_drawn_ahead_leave_each_members_stream_where_training_alone_leaves_it():
    alone, together = pairs()
    cohort = Cohort(together)
    for _ in range(3):
        cohort.step()  # each step also draws the next step's batches, from copies
        for a, b in zip(alone, together, strict=True):
            a.step()
            assert torch.equal(a.generator.get_state(), b.generator.get_state())


def test_a_stream_moved_between_steps_is_drawn_from_where_it_now_is():
    """A batch drawn ahead from a stream that has since changed is not used."""
    alone, together = pairs()
    cohort = Cohort(together)
    cohort.step()
    for t in alone:
        t.step()
    for t in (alone[1], together[1]):
        t.generator.manual_seed(99)
    for e, g in zip([t.step() for t in alone], cohort.step(), strict=True):
        assert math.isclose(g.loss, e.loss, rel_tol=1e-4)
    for a, b in zip(alone, together, strict=True):
        assert_same_weights(a, b)


def test_members_answer_predictions_from_the_weights_the_cohort_trains():
    alone, together = pairs()
    cohort = Cohort(together)
    for _ in range(5):
        cohort.step()
        for t in alone:
            t.step()
    for a, b in zip(alone, together, strict=True):
        pa, pb = (
            a.task.predict(a.model, "the ca", length=0),
            b.task.predict(b.model, "the ca", length=0),
        )
        assert [t["char"] for t in pa["top"]] == [t["char"] for t in pb["top"]]
        assert math.isclose(pa["top"][0]["p"], pb["top"][0]["p"], rel_tol=1e-4)


def test_the_cohort_samples_every_member_at_its_own_temperature():
    _, together = pairs()
    cohort = Cohort(together)
    torch.manual_seed(0)
    texts = [sample["text"] for sample in cohort.sample(30, [0.5, 1.0, 2.0])]
    assert [len(t) for t in texts] == [30, 30, 30]
    assert all(set(t) <= set(TEXT) for t in texts)
    assert cohort.sample(0, [1.0, 1.0, 1.0]) == [{"text": ""}] * 3


def test_only_models_that_can_share_a_step_share_a_key():
    dataset = TextDataset.from_text(TEXT)
    base = make(dataset)
    assert cohort_key(base) == cohort_key(make(dataset, seed=9, learning_rate=0.1, clip=False))
    for change in ({"hidden_size": 16}, {"model": "gru"}, {"batch_size": 8}, {"optimizer": "sgd"}):
        assert cohort_key(make(dataset, **change)) != cohort_key(base)
    other_vocab = Trainer(TextTask.from_text("abcdefgh " * 40), TINY)
    assert cohort_key(other_vocab) != cohort_key(base)
    assert cohort_key(make(dataset, model="window")) is None
    with pytest.raises(ValueError, match="cohort_key"):
        Cohort([base, make(dataset, hidden_size=16)])


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_the_cells_equations_match_torch(kind):
    """cell_step with stacked leading dims is the step of torch's fused cell."""
    torch.manual_seed(0)
    cells = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}
    ref = cells[kind](5, 6)
    x, h, c = torch.randn(3, 5), torch.randn(3, 6), torch.randn(3, 6)
    gx = x @ ref.weight_ih.T + ref.bias_ih
    gh = h @ ref.weight_hh.T + ref.bias_hh
    h_t, c_t = cell_step(kind, "tanh", gx[None], gh[None], h[None], c[None])
    if kind == "lstm":
        want_h, want_c = ref(x, (h, c))
        assert torch.allclose(c_t[0], want_c, atol=1e-6)
    else:
        want_h = ref(x, h)
    assert torch.allclose(h_t[0], want_h, atol=1e-6)


def test_the_cpu_runs_the_written_out_equations():
    assert fused_cells_work(torch.device("cpu")) is False  # no fused cell kernels on the CPU


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize(
    ("model", "tf32", "graphs", "tol"),
    [
        ("lstm", False, False, 1e-4),  # float32 products, launched one by one
        ("lstm", False, True, 1e-4),  # the same replayed as a captured graph
        ("rnn", False, True, 1e-4),
        ("gru", False, True, 1e-4),
        ("lstm", None, True, 1e-2),  # TF32 products, as cuDNN's LSTM uses for a session alone
    ],
)
def test_cohort_on_cuda_equals_training_each_alone_on_the_cpu(model, tf32, graphs, tol):
    dataset = TextDataset.from_text(TEXT)
    alone = [make(dataset, model=model, **m) for m in MEMBERS]
    together = [
        Trainer(TextTask(dataset), TINY.replace(model=model, **m), device="cuda") for m in MEMBERS
    ]
    cohort = Cohort(together, tf32=tf32, graphs=graphs)
    for _ in range(4):
        expected = [t.step() for t in alone]
        for e, g in zip(expected, cohort.step(), strict=True):
            assert math.isclose(g.loss, e.loss, rel_tol=tol)
    assert cohort.graphed == graphs
    cohort.dissolve()
    for a, b in zip(alone, together, strict=True):
        for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True):
            assert torch.allclose(p, q.cpu(), atol=tol)
