"""Generate text with a model exported from RNN Playground.

Usage: python sample.py [--length 500] [--temperature 0.8] [--prompt "The "]
Needs only torch and safetensors; run it in the folder holding model.safetensors and
settings.json (both come in the exported zip).
"""

import argparse
import json

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class CharRNN(nn.Module):
    """One-hot characters in, recurrent layers, next-character logits out."""

    def __init__(self, cfg: dict, vocab_size: int) -> None:
        super().__init__()
        extra = {"nonlinearity": cfg.get("activation", "tanh")} if cfg["model"] == "rnn" else {}
        self.vocab_size = vocab_size
        self.rnn = CELLS[cfg["model"]](
            vocab_size, cfg["hidden_size"], cfg["num_layers"], batch_first=True, **extra
        )
        self.head = nn.Linear(cfg["hidden_size"], vocab_size)

    def forward(self, x, state=None):
        h, state = self.rnn(F.one_hot(x, self.vocab_size).float(), state)
        return self.head(h), state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=500)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--prompt", default="\n")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", default=".", help="folder with the exported files")
    args = parser.parse_args()

    settings = json.load(open(f"{args.dir}/settings.json", encoding="utf-8"))
    vocab = settings["vocab"]
    stoi = {c: i for i, c in enumerate(vocab)}
    model = CharRNN(settings["config"], len(vocab))
    model.load_state_dict(load_file(f"{args.dir}/model.safetensors"))
    model.eval()
    torch.manual_seed(args.seed)

    prompt = [stoi[c] for c in args.prompt if c in stoi] or [0]
    out = []
    with torch.no_grad():
        logits, state = model(torch.tensor([prompt]))
        for _ in range(args.length):
            p = F.softmax(logits[0, -1] / args.temperature, dim=-1)
            nxt = int(torch.multinomial(p, 1))
            out.append(vocab[nxt])
            logits, state = model(torch.tensor([[nxt]]), state)
    print(args.prompt + "".join(out))


if __name__ == "__main__":
    main()
