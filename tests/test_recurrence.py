"""The hand-written backpropagation through time equals autograd over the plain step loop."""

from __future__ import annotations

import pytest
import torch

from backend.core.recurrence import fused_recurrence_works, recurrence
from backend.engine.cohort import cell_step


def autograd_loop(kind: str, activation: str, gx: torch.Tensor, W_hh_T: torch.Tensor):
    """The reference: the cell's equations stepped in Python, differentiated by autograd."""
    T, S, B, _ = gx.shape
    h = c = gx.new_zeros(S, B, W_hh_T.shape[1])
    hs = []
    for t in range(T):
        h, c = cell_step(kind, activation, gx[t], torch.bmm(h, W_hh_T), h, c)
        hs.append(h)
    return torch.stack(hs)


@pytest.mark.parametrize("T", [1, 2, 7])
@pytest.mark.parametrize(
    ("kind", "activation"), [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh")]
)
def test_values_and_gradients_match_autograd(kind, activation, T):
    G = 4 if kind == "lstm" else 1
    S, B, H = 3, 2, 5
    gen = torch.Generator().manual_seed(T)
    gx = torch.randn(T, S, B, G * H, generator=gen, dtype=torch.float64, requires_grad=True)
    W = (0.5 * torch.randn(S, H, G * H, generator=gen, dtype=torch.float64)).requires_grad_()
    upstream = torch.randn(T, S, B, H, generator=gen, dtype=torch.float64)

    ours = recurrence(kind, activation, gx, W)
    reference = autograd_loop(kind, activation, gx, W)
    torch.testing.assert_close(ours, reference, rtol=1e-12, atol=1e-12)

    grads = torch.autograd.grad((ours * upstream).sum(), (gx, W))
    expected = torch.autograd.grad((reference * upstream).sum(), (gx, W))
    for got, want in zip(grads, expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


def test_gradient_of_only_the_last_step_reaches_the_first_input():
    """Many-to-one use: the loss reads h_T alone, yet every earlier gx_t gets its share."""
    gx = torch.randn(6, 1, 1, 8, dtype=torch.float64, requires_grad=True)
    W = torch.randn(1, 2, 8, dtype=torch.float64, requires_grad=True)
    (g_ours,) = torch.autograd.grad(recurrence("lstm", "tanh", gx, W)[-1].sum(), gx)
    (g_ref,) = torch.autograd.grad(autograd_loop("lstm", "tanh", gx, W)[-1].sum(), gx)
    torch.testing.assert_close(g_ours, g_ref)
    assert g_ours[0].abs().sum() > 0


def test_fused_path_is_only_taken_where_its_kernels_exist():
    assert fused_recurrence_works(torch.device("cpu")) is False


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fused_path_matches_the_written_out_one_on_cuda():
    assert fused_recurrence_works(torch.device("cuda")) is True
