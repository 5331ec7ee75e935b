"""Benchmarks of wgpt_lite: speed, scaling and distance to the machine's limit.

``python -m bench`` (``make bench``) runs every section, prints markdown tables and writes
them to docs/benchmarks.md; ``--quick`` is a one-minute pass; ``--sections`` picks some.

- probe: the best matmul FLOP/s of this machine, fp32 and bf16 (probe.py)
- throughput: training tokens/s of GPT-S, hybrid and GPT-L against a plain reference,
  and model FLOPs utilisation against the probe (throughput.py, workload.py, profile.py)
- scaling: step time and memory against context length and width (scaling.py)
- frontend: log-mel, MelVQ and EnCodec speed, EnCodec extraction clip by clip vs batched,
  feature cache cold vs warm (frontend.py)
"""
