import pytest
import torch

from backend.config import TrainConfig
from backend.core.models import SequenceModel, build_model

V = 11


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 2, 3])
def test_output_shapes(kind, layers):
    model = build_model(TrainConfig(model=kind, hidden_size=8, num_layers=layers), V)
    x = torch.randint(0, V, (3, 5))
    logits, state = model(x)
    assert logits.shape == (3, 5, V)
    h = state[0] if kind == "lstm" else state
    assert h.shape == (layers, 3, 8)
    if kind == "lstm":
        assert state[1].shape == (layers, 3, 8)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_state_carries_over_like_one_long_call(kind):
    model = build_model(TrainConfig(model=kind, hidden_size=8, num_layers=2), V)
    x = torch.randint(0, V, (2, 6))
    whole, _ = model(x)
    first, state = model(x[:, :4])
    rest, _ = model(x[:, 4:], state)
    torch.testing.assert_close(torch.cat([first, rest], dim=1), whole)


def test_same_seed_same_weights():
    cfg = TrainConfig(hidden_size=16, seed=7)
    a, b = build_model(cfg, V), build_model(cfg, V)
    c = build_model(cfg.replace(seed=8), V)
    for (name, pa), pb, pc in zip(
        a.state_dict().items(), b.state_dict().values(), c.state_dict().values(), strict=True
    ):
        assert torch.equal(pa, pb), name
        assert not torch.equal(pa, pc), name


def test_building_leaves_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_model(TrainConfig(hidden_size=8), V)
    assert torch.equal(torch.rand(3), expected)


def test_layer_names_and_param_count():
    model = build_model(TrainConfig(model="lstm", hidden_size=8, num_layers=1), V)
    assert isinstance(model, SequenceModel)
    assert model.rnn.weight_ih_l0.shape == (4 * 8, V)  # gates i, f, g, o stacked
    assert model.head.weight.shape == (V, 8)
    lstm = 4 * 8 * (V + 8 + 2)  # W_ih, W_hh and two biases
    assert model.num_params() == lstm + 8 * V + V


def test_rnn_is_tanh_rnn():
    model = build_model(TrainConfig(model="rnn", hidden_size=8, num_layers=1), V)
    x = torch.tensor([[3]])
    logits, h = model(x)
    w, b = model.rnn.weight_ih_l0, model.rnn.bias_ih_l0 + model.rnn.bias_hh_l0
    torch.testing.assert_close(h[0, 0], torch.tanh(w[:, 3] + b))  # one-hot picks column 3
    torch.testing.assert_close(logits[0, 0], model.head(h[0, 0]))


def test_defaults_leave_pytorch_initialisation_alone():
    cfg = TrainConfig(model="rnn", hidden_size=8, num_layers=2, seed=4)
    torch.manual_seed(4)
    plain = SequenceModel("rnn", V, 8, 2)
    built = build_model(cfg, V).state_dict()
    for (name, p), q in zip(built.items(), plain.state_dict().values(), strict=True):
        assert torch.equal(p, q), name


def test_relu_rnn_uses_relu():
    model = build_model(TrainConfig(model="rnn", activation="relu", hidden_size=8, num_layers=1), V)
    assert model.rnn.nonlinearity == "relu"
    _, h = model(torch.tensor([[3]]))
    w, b = model.rnn.weight_ih_l0, model.rnn.bias_ih_l0 + model.rnn.bias_hh_l0
    torch.testing.assert_close(h[0, 0], torch.relu(w[:, 3] + b))


def test_activation_is_ignored_by_gated_cells():
    lstm = build_model(TrainConfig(model="lstm", activation="relu", hidden_size=8), V)
    assert lstm.activation == "tanh"
    with pytest.raises(ValueError):
        SequenceModel("rnn", V, 8, 1, activation="sigmoid")


@pytest.mark.parametrize(("kind", "gates"), [("rnn", 1), ("lstm", 4), ("gru", 3)])
def test_identity_init_makes_every_gate_block_the_identity(kind, gates):
    cfg = TrainConfig(model=kind, init="identity", init_scale=0.5, hidden_size=8, num_layers=2)
    model = build_model(cfg, V)
    for k in range(2):
        w_hh = getattr(model.rnn, f"weight_hh_l{k}")
        assert torch.equal(w_hh, 0.5 * torch.eye(8).repeat(gates, 1))
        assert not getattr(model.rnn, f"bias_ih_l{k}").any()
        assert not getattr(model.rnn, f"bias_hh_l{k}").any()
    assert model.rnn.weight_ih_l0.abs().sum() > 0  # input weights keep their init


def test_init_scale_multiplies_only_the_recurrent_weights():
    cfg = TrainConfig(model="lstm", hidden_size=8, num_layers=2)
    base, big = build_model(cfg, V), build_model(cfg.replace(init_scale=3.0), V)
    for name, p in big.named_parameters():
        expected = (
            3.0 * base.get_parameter(name) if "weight_hh" in name else base.get_parameter(name)
        )
        torch.testing.assert_close(p, expected, msg=name)
