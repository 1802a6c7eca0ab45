"""Recurrent models of character sequences; see `char_rnn` for the equations."""

from backend.models.char_rnn import CELLS, CharRNN, State, build_model

__all__ = ["CELLS", "CharRNN", "State", "build_model"]
