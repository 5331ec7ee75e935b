"""Answers a student could plausibly give to assignment 1, each of which must lose points.

question -> {what is wrong: the answer}; an answer is {text of the solution cell: what replaces it} or
a whole cell. ``python assignments/grade_answers.py 01-causal-mel`` grades them; ``make test`` requires
each to lose points of its question (``tests/test_assignments.py``).
"""

WRONG_ANSWERS = {
    "q1": {
        "a window centred on the frame": {
            "end = (t + 1) * hop\n    return end - n_fft, end": "return t * hop - n_fft // 2, t * hop + n_fft // 2"
        },
        "a window that starts at the frame and looks ahead": {
            "return end - n_fft, end": "return t * hop, t * hop + n_fft"
        },
        "the window ends one hop early": {"end = (t + 1) * hop": "end = t * hop"},
        "the inclusive end instead of the exclusive one": {"return end - n_fft, end": "return end - n_fft, end - 1"},
        "the arguments ignored (the kit's constants used instead)": {"end = (t + 1) * hop": "end = (t + 1) * HOP"},
    },
    "q2": {
        "no left padding: window t starts at sample t * hop": {
            "padded = F.pad(wav[None, : n_frames * hop], (n_fft - hop, 0))[0]": "padded = wav"
        },
        "padded by a whole window: every frame one hop late": {"(n_fft - hop, 0)": "(n_fft, 0)"},
        "a centred STFT": {
            "padded = F.pad(wav[None, : n_frames * hop], (n_fft - hop, 0))[0]": "padded = wav",
            "center=False": "center=True",
        },
        "padded on the right": {"(n_fft - hop, 0)": "(0, n_fft - hop)"},
        "the magnitude instead of the power": {"spec[:, :n_frames].abs() ** 2": "spec[:, :n_frames].abs()"},
        "no window (a rectangular one)": {"window = torch.hann_window(n_fft)": "window = torch.ones(n_fft)"},
    },
    "q3": {
        "natural log instead of log10": {"mel_power.clamp(min=1e-8).log10()": "mel_power.clamp(min=1e-8).log()"},
        "floor at 1e-10 (Whisper's) instead of 1e-8": {"clamp(min=1e-8)": "clamp(min=1e-10)"},
        "Whisper's per-clip clamp added": {
            "return ((mel_power.clamp(min=1e-8).log10() + 4.0) / 4.0).T": (
                "log_spec = mel_power.clamp(min=1e-8).log10()\n"
                "    log_spec = torch.maximum(log_spec, log_spec.max() - 8.0)\n"
                "    return ((log_spec + 4.0) / 4.0).T"
            )
        },
        "not transposed: [64, frames]": {"/ 4.0).T": "/ 4.0)"},
        "the mel of the magnitude, not of the power": {
            "wl.mel_filters() @ causal_power(wav)": "wl.mel_filters() @ causal_power(wav).sqrt()"
        },
    },
    "q4": {
        "frames 0..t-1 compared, frame t left out": {"(before[: t + 1] - after[: t + 1])": "(before[:t] - after[:t])"},
        "the audio perturbed from frame t's first sample on": {"start = (t + 1) * HOP": "start = t * HOP"},
        "the original audio perturbed in place, then compared with itself": {
            "perturbed = wav.clone()": "perturbed = wav"
        },
        "frame t measured as the next frame": {"(before[t + 1] - after[t + 1])": "(before[t] - after[t])"},
    },
}
