"""Answers a student could plausibly give to assignment 5, each of which must lose points.

question -> {what is wrong: the answer}; an answer is {text of the solution cell: what replaces it} or
a whole cell. ``python assignments/grade_answers.py 05-leak-hunt`` grades them; ``make test`` requires
each to lose points of its question (``tests/test_assignments.py``). Every answer to q1 trains two
hybrids again (half a minute to a minute on 2 CPU cores), and q1's hidden test two more: four are listed.
"""

WRONG_ANSWERS = {
    "q1": {
        "the gain with its sign reversed": {"gain = nll_causal - nll_whisper": "gain = nll_whisper - nll_causal"},
        "both hybrids trained on the kit's front end (a copy-paste)": {
            "train_hybrid(whisper_log_mel)": "train_hybrid(wl.log_mel)"
        },
        "the causal hybrid trained for 20 steps, not as many as the other": {
            "train_hybrid(wl.log_mel)": "train_hybrid(wl.log_mel, steps=20)"
        },
        "the whisper hybrid trained for half the steps": {
            "train_hybrid(whisper_log_mel)": "train_hybrid(whisper_log_mel, steps=100)"
        },
    },
    "q2": {
        "the two results swapped": {
            "wl.future_leak(wl.log_mel, wav, 200)  # SOLUTION\nleak_whisper = wl.future_leak(whisper_log_mel,": (
                "wl.future_leak(whisper_log_mel, wav, 200)\nleak_whisper = wl.future_leak(wl.log_mel,"
            )
        },
        "the colleague's front end checked at another frame": {
            "wl.future_leak(whisper_log_mel, wav, 200)": "wl.future_leak(whisper_log_mel, wav, 20)"
        },
    },
    "q3": {
        "the last unchanged frame, not the first changed one": {
            "return int(changed[0]) if len(changed)": "return int(changed[0]) - 1 if len(changed)"
        },
        "the audio perturbed after frame t + 1": {"perturb_future(wav, t)": "perturb_future(wav, t + 1)"},
        "centred_only keeps the clamp (it is the colleague's front end)": {
            "    return (((wl.mel_filters() @ power).clamp(min=1e-8).log10() + 4.0) / 4.0).T": (
                "    log_spec = (wl.mel_filters() @ power).clamp(min=1e-8).log10()\n"
                "    return ((torch.maximum(log_spec, log_spec.max() - 8.0) + 4.0) / 4.0).T"
            )
        },
        "clamp_only on the centred STFT": {
            "    log_spec = (wl.mel_filters() @ wl.power_spectrogram(wav))": (
                "    window = torch.hann_window(N_FFT)\n"
                "    spec = torch.stft(wav, N_FFT, HOP, window=window, center=True, return_complex=True)\n"
                "    log_spec = (wl.mel_filters() @ spec[..., : wav.shape[-1] // HOP].abs() ** 2)"
            )
        },
        "earliest_changed decides by which function it was given": {
            "    before, after = features(wav), features(perturb_future(wav, t))": (
                "    if features is wl.log_mel:\n        return t + 1\n"
                "    if features is centred_only:\n        return t\n"
                "    return 0"
            )
        },
    },
    "q4": {
        "positions 0..t-1 compared (the batch axis kept, then [:, :t])": {
            "return model(ids[None], mel=mel[None])[0][0]": "return model(ids[None], mel=mel[None])[0]",
            "(logits(wav)[: t + 1] - logits(perturb_future(wav, t))[: t + 1])": (
                "(logits(wav)[:, :t] - logits(perturb_future(wav, t))[:, :t])"
            ),
        },
        "a causal model with a logit leak: [: t + 1] cuts the batch axis, not the positions": {
            "return model(ids[None], mel=mel[None])[0][0]": "return model(ids[None], mel=mel[None])[0]"
        },
        "position t alone compared, not 0..t": {
            "(logits(wav)[: t + 1] - logits(perturb_future(wav, t))[: t + 1])": (
                "(logits(wav)[t] - logits(perturb_future(wav, t))[t])"
            )
        },
        "a constant keyed on the front end (0.0 for wl.log_mel itself, 1.0 for any other)": {
            "    def logits(audio):": "    return 0.0 if front_end is wl.log_mel else 1.0\n\n    def logits(audio):"
        },
        "always 0.0": {"    def logits(audio):": "    return 0.0\n\n    def logits(audio):"},
        "perturb_future called but its result unused (it returns a copy)": {
            "    return (logits(wav)[: t + 1] - logits(perturb_future(wav, t))[: t + 1])": (
                "    perturb_future(wav, t)\n    return (logits(wav)[: t + 1] - logits(wav)[: t + 1])"
            )
        },
        "the kit's front end used whatever front_end is given": {
            "front_end(audio)[:context]": "wl.log_mel(audio)[:context]"
        },
        "t ignored: the prompt's 40 hard-coded": {"    def logits(audio):": "    t = 40\n\n    def logits(audio):"},
    },
}
