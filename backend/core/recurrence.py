"""One recurrent layer of S stacked models through time, with backpropagation through time
written out.

Used by `backend.engine.cohort` for the vanilla RNN and the LSTM. For a layer with gate inputs
gx_t = W_ih x_t + b (all T steps computed beforehand) and recurrent weights W_hh:

  forward   gates_t = gx_t + W_hh h_{t-1}            one batched product per step
            h_t, c_t = cell(gates_t, c_{t-1})        tanh / relu, or the LSTM's equations
  backward  for t = T .. 1:
              dh_t     = dL/dh_t (from above) + W_hh^T dgates_{t+1}
              dgates_t = the cell's derivative at t  (what autograd would compute)
            dL/dgx_t   = dgates_t
            dL/dW_hh   = sum_t dgates_t h_{t-1}^T    ONE product over all T*B rows

Autograd over a Python loop of the forward computes the same numbers, but forms dL/dW_hh one
step at a time: T small products, each added into an (S, G*H, H) buffer. Profiled on one
H200 (32 LSTMs of hidden 256, batch 64, 100 steps), those additions alone took 2.4 ms of
the step's 19 ms of GPU time, and the loop's autograd bookkeeping most of its host time.

On CUDA the LSTM step and its derivative use PyTorch's fused kernels (the ones nn.LSTMCell
uses there), after `fused_recurrence_works` has checked them against the equations.
"""

from __future__ import annotations

import functools
from typing import Any

import torch

LSTM_FUSED = torch.ops.aten._thnn_fused_lstm_cell
LSTM_FUSED_BACKWARD = torch.ops.aten._thnn_fused_lstm_cell_backward_impl


def recurrence(
    kind: str, activation: str, gx: torch.Tensor, W_hh_T: torch.Tensor, fused: bool = False
) -> torch.Tensor:
    """Every h_t (T, S, B, H) of a layer from h_0 = c_0 = 0.

    kind "rnn" (activation "tanh" or "relu") or "lstm"; gx (T, S, B, G*H) holds the biases;
    W_hh_T (S, H, G*H) is W_hh transposed; `fused` picks the CUDA LSTM kernels.
    """
    return _Recurrence.apply(gx, W_hh_T, kind, activation, fused)


class _Recurrence(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, gx: torch.Tensor, W_hh_T: torch.Tensor, kind: str, activation: str, fused: bool
    ) -> torch.Tensor:
        T, S, B, _ = gx.shape
        H = W_hh_T.shape[1]
        h = c = gx.new_zeros(S, B, H)
        hs, cs, saved = [], [c], []  # saved: what each step's derivative needs
        for t in range(T):
            if kind == "rnn":
                gates = torch.baddbmm(gx[t], h, W_hh_T)  # gx_t + W_hh h_{t-1}
                h = torch.relu(gates) if activation == "relu" else torch.tanh(gates)
            elif fused:
                flat = (gx[t].reshape(S * B, -1), torch.bmm(h, W_hh_T).view(S * B, -1))
                h, c, workspace = LSTM_FUSED(*flat, c.view(S * B, H))
                h, c = h.view(S, B, H), c.view(S, B, H)
                saved.append(workspace)  # the activated gates, as the fused derivative wants
            else:
                gates = torch.baddbmm(gx[t], h, W_hh_T)
                i, f, g, o = gates.chunk(4, dim=-1)
                act = torch.cat([i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()], dim=-1)
                i, f, g, o = act.chunk(4, dim=-1)
                c = f * c + i * g  # c_t = f_t * c_{t-1} + i_t * g_t
                h = o * torch.tanh(c)  # h_t = o_t * tanh(c_t)
                saved.append(act)
            hs.append(h)
            cs.append(c)
        # Member-major (S, T, B, H): the head and the next layer read each member's T*B rows
        # as one block, and so does backward's product for dL/dW_hh.
        out = torch.stack(hs, dim=1)
        ctx.kind, ctx.activation, ctx.fused = kind, activation, fused
        ctx.cs, ctx.saved = cs, saved
        ctx.save_for_backward(W_hh_T, out)
        return out.transpose(0, 1)  # (T, S, B, H), a view

    @staticmethod
    def backward(ctx: Any, d_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        W_hh_T, out = ctx.saved_tensors  # out (S, T, B, H): h_1 .. h_T
        S, T, B, H = out.shape
        W_hh = W_hh_T.transpose(1, 2)  # (S, G*H, H)
        dgates: list[torch.Tensor] = [None] * T  # type: ignore[list-item]
        dh = dc = None  # from step t + 1; none after the last step
        for t in reversed(range(T)):
            dh = d_out[t] if dh is None else d_out[t] + dh  # dL/dh_t
            h = out[:, t]
            if ctx.kind == "rnn":
                if ctx.activation == "relu":
                    dg = dh * (h > 0)
                else:
                    dg = dh * (1 - h * h)  # tanh' = 1 - tanh^2
            else:
                dg, dc = _lstm_backward(ctx, t, dh, dc, S, B, H)
            dgates[t] = dg
            if t > 0:  # h_0 = 0 is no parameter: nothing to send further back
                dh = torch.bmm(dg, W_hh)  # dL/dh_{t-1} through gates_t: (S, B, H)
        dg_all = torch.stack(dgates, dim=1)  # (S, T, B, G*H)
        # dL/dW_hh^T = sum over t >= 2 and b of h_{t-1}^T dgates_t (h_0 = 0 adds nothing).
        h_prev = out[:, :-1].reshape(S, (T - 1) * B, H)
        dg_next = dg_all[:, 1:].reshape(S, (T - 1) * B, dg_all.shape[-1])
        d_W_hh_T = torch.bmm(h_prev.transpose(1, 2), dg_next)
        return dg_all.transpose(0, 1), d_W_hh_T, None, None, None


def _lstm_backward(
    ctx: Any, t: int, dh: torch.Tensor, dc: torch.Tensor | None, S: int, B: int, H: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """dL/dgates_t and dL/dc_{t-1} from dL/dh_t and dL/dc_t (the part through c_{t+1})."""
    c_prev, c = ctx.cs[t], ctx.cs[t + 1]
    if ctx.fused:
        flat = (dh.reshape(S * B, H), None if dc is None else dc.reshape(S * B, H))
        dg, dc_prev, _ = LSTM_FUSED_BACKWARD(
            *flat, c_prev.reshape(S * B, H), c.reshape(S * B, H), ctx.saved[t], False
        )
        return dg.view(S, B, -1), dc_prev.view(S, B, H)
    i, f, g, o = ctx.saved[t].chunk(4, dim=-1)
    tanh_c = torch.tanh(c)
    dc = dh * o * (1 - tanh_c * tanh_c) + (0 if dc is None else dc)  # h_t = o_t tanh(c_t)
    dg = torch.cat(
        [
            dc * g * i * (1 - i),  # through i_t = sigmoid(.)
            dc * c_prev * f * (1 - f),  # f_t
            dc * i * (1 - g * g),  # g_t = tanh(.)
            dh * tanh_c * o * (1 - o),  # o_t
        ],
        dim=-1,
    )
    return dg, dc * f  # c_t depends on c_{t-1} through f_t


@functools.cache
def fused_recurrence_works(device: torch.device) -> bool:
    """Whether the fused LSTM path matches the written-out one here, in values and gradients."""
    try:
        gen = torch.Generator(device=device).manual_seed(0)
        gx = torch.randn(5, 2, 3, 32, device=device, generator=gen, requires_grad=True)
        W = torch.randn(2, 8, 32, device=device, generator=gen, requires_grad=True)
        fused = recurrence("lstm", "tanh", gx, W, fused=True)
        plain = recurrence("lstm", "tanh", gx, W, fused=False)
        weights = torch.randn(fused.shape, device=device, generator=gen)
        g_fused = torch.autograd.grad((fused * weights).sum(), (gx, W))
        g_plain = torch.autograd.grad((plain * weights).sum(), (gx, W))
        pairs = [(fused, plain), *zip(g_fused, g_plain, strict=True)]
        return all(torch.allclose(a, b, atol=1e-5) for a, b in pairs)
    except (RuntimeError, AttributeError, TypeError, NotImplementedError):  # no such kernel
        return False
