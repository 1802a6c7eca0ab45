"""RNN Playground benchmark suite: `python -m benchmarks [--quick]`.

Each module measures one thing against a real server (gunicorn, `wsgi:app`, threading mode)
started on a free port with a temporary data directory:

- `training`   one session's training speed against a plain PyTorch loop, and a JS reference
- `keystroke`  round trip of a next-character query while other sessions train
- `scheduling` fairness between 8 training sessions and their total throughput
- `memory`     resident memory each loaded session adds to the server's process tree
- `gpu`        many sessions on one GPU (skipped without CUDA)

Timings are reported, never asserted: the goals are printed beside the figures.
"""
