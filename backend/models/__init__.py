"""Recurrent models of character sequences; see `char_rnn` for the equations."""

from backend.models.char_rnn import (
    ACTIVATIONS,
    CELLS,
    INITS,
    CharRNN,
    State,
    build_model,
    init_recurrent_,
)

__all__ = ["ACTIVATIONS", "CELLS", "INITS", "CharRNN", "State", "build_model", "init_recurrent_"]
