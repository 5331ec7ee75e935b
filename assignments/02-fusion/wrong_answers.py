"""Answers a student could plausibly give to assignment 2, each of which must lose points.

question -> {what is wrong: the answer}; an answer is {text of the solution cell: what replaces it} or
a whole cell. ``python assignments/grade_answers.py 02-fusion`` grades them; ``make test`` requires
each to lose points of its question (``tests/test_assignments.py``).
"""

WRONG_ANSWERS = {
    "q1": {
        "no position embedding": {"self.proj(mel) + self.wpe(positions)": "self.proj(mel)"},
        "positions counted from 1": {
            "torch.arange(mel.shape[1], device=mel.device)": "torch.arange(1, mel.shape[1] + 1, device=mel.device)"
        },
        "only the first block": {"for block in self.blocks:\n            x = block(x)": "x = self.blocks[0](x)"},
        "no dropout": {
            "x = self.drop(self.proj(mel) + self.wpe(positions))": "x = self.proj(mel) + self.wpe(positions)"
        },
        "dropout after the blocks instead of before": {
            "x = self.drop(self.proj(mel) + self.wpe(positions))": "x = self.proj(mel) + self.wpe(positions)",
            "        return x\n": "        return self.drop(x)\n",
        },
        "the kit's own forward called on itself": {
            "        positions = torch.arange(mel.shape[1], device=mel.device)": (
                "        return wl.MelEncoder.forward(self, mel)\n"
                "        positions = torch.arange(mel.shape[1], device=mel.device)"
            )
        },
    },
    "q2": {
        "token part first": {"[model.mel_encoder(mel), model.wte(ids)]": "[model.wte(ids), model.mel_encoder(mel)]"},
        "the mel projected but not through the mel blocks": {"model.mel_encoder(mel)": "model.mel_encoder.proj(mel)"},
        "the position embedding added already": {"dim=-1)": "dim=-1) + model.wpe(torch.arange(ids.shape[1]))"},
        "the kit's model.embed called, although the prompt says not to": {
            "torch.cat([model.mel_encoder(mel), model.wte(ids)], dim=-1)": "model.embed(ids, mel)"
        },
    },
    "q3": {
        "the model built and counted, although the prompt says not to": {
            "    def block(w):": (
                "    from wgpt_lite.model import from_config\n\n"
                "    return from_config(config).num_params()\n\n"
                "    def block(w):"
            )
        },
        "a table of num_params() for the presets' configs (vocabulary as preset and 128), built outside": {
            "def count_params(config):\n": (
                "TABLE = {\n"
                "    repr(wl.model_config(name, preset, **vocab)): wl.build_model(name, preset, **vocab).num_params()\n"
                "    for preset in ('smoke', 'mini', 'paper')\n"
                "    for name in ('gpt-s', 'gpt-l', 'hybrid')\n"
                "    for vocab in ({}, {'vocab_size': 128})\n"
                "}\n\n\n"
                "def count_params(config):\n"
            ),
            "    def block(w):": "    return TABLE[repr(config)]\n\n    def block(w):",
        },
        "n_mels taken as 64, the kit's default": {"config.n_mels * d": "64 * d"},
        "ln_f forgotten": {"+ 2 * e + e * v": "+ e * v"},
        "a bias in the head": {"+ 2 * e + e * v": "+ 2 * e + e * v + v"},
        "the hybrid's token embedding at full width": {"v * (e - config.d_mel)": "v * e"},
        "the mel encoder's position embedding forgotten": {
            "config.n_mels * d + d + config.context * d": "config.n_mels * d + d"
        },
        "a model built once per config and its count kept (no formula)": {
            "    # BEGIN SOLUTION\n": (
                "    # BEGIN SOLUTION\n    if repr(config) not in SEEN:\n"
                "        SEEN[repr(config)] = wl.WhisperGPT(config) if config.d_mel else wl.GPT(config)\n"
                "    return SEEN[repr(config)].num_params()\n"
            ),
            "def count_params(config):": "SEEN = {}\n\n\ndef count_params(config):",
        },
    },
    "q4": {
        "position t alone compared, not 0..t": {
            "(before[:, : t + 1] - after[:, : t + 1])": "(before[:, t] - after[:, t])"
        },
        "a constant keyed on the model's class (0.0 for the kit's models, 1.0 for others)": {
            "    changed = mel.clone()": (
                '    return 0.0 if type(model).__module__.startswith("wgpt_lite") else 1.0\n    changed = mel.clone()'
            )
        },
        "the mean change, a tensor, not the largest as a float": {".abs().max().item()": ".abs().mean()"},
        "the mean change as a float, not the largest": {".abs().max().item()": ".abs().mean().item()"},
        "positions 0..t-1 compared, position t left out": {
            "(before[:, : t + 1] - after[:, : t + 1])": "(before[:, :t] - after[:, :t])"
        },
        "mel frames changed from t on, not after t": {
            "changed[:, t + 1 :] = torch.randn_like(changed[:, t + 1 :]) * 10": (
                "changed[:, t:] = torch.randn_like(changed[:, t:]) * 10"
            )
        },
        "the positions after t compared": {
            "(before[:, : t + 1] - after[:, : t + 1])": "(before[:, t + 1 :] - after[:, t + 1 :])"
        },
        "the mel changed in place, so both runs see the same frames": {"changed = mel.clone()": "changed = mel"},
        "t ignored: the printout's 15 hard-coded": {
            "    changed = mel.clone()": "    t = 15\n    changed = mel.clone()"
        },
        "the first row of the batch only": {
            "return (before[:, : t + 1] - after[:, : t + 1])": "return (before[0, : t + 1] - after[0, : t + 1])"
        },
        "the caller's mel changed in place": {
            "    changed = mel.clone()\n    changed[:, t + 1 :] = torch.randn_like(changed[:, t + 1 :]) * 10\n": "",
            "        after, _ = model(ids, mel=changed)": (
                "        mel[:, t + 1 :] = torch.randn_like(mel[:, t + 1 :]) * 10\n"
                "        after, _ = model(ids, mel=mel)"
            ),
        },
    },
}
