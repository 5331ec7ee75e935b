"""Answers a student could plausibly give to assignment 4, each of which must lose points.

question -> {what is wrong: the answer}; an answer is {text of the solution cell: what replaces it} or
a whole cell. ``python assignments/grade_answers.py 04-ablation`` grades them; ``make test`` requires
each to lose points of its question (``tests/test_assignments.py``). Every answer to q1 trains three
models again (half a minute to a minute on 2 CPU cores): two are listed, one the public test catches,
one only the hidden test does.
"""

ROW = "f\"| {r['d_mel']} | {r['params']} | {r['nll']:.3f} | {r['ppl']:.3f} | {100 * r['acc']:.2f}% |\""

WRONG_ANSWERS = {
    "q1": {
        "d_mel not passed: every hybrid has the preset's width": {
            "vocab_size=tokenizer.vocab_size, **overrides)": "vocab_size=tokenizer.vocab_size)"
        },
        "the run folder not emptied first": {"    shutil.rmtree(run_dir, ignore_errors=True)\n": ""},
    },
    "q2": {
        "the training loss as the curve, not the evaluations": {
            'if record["kind"] == "eval":': 'if record["kind"] == "train":',
            'record["step"], record["nll"]]': 'record["step"], record["loss"]]',
        },
        "the columns of the curves in another order": {
            'writer.writerow(["d_mel", "step", "nll"])': 'writer.writerow(["step", "d_mel", "nll"])',
            '[d_mel, record["step"], record["nll"]]': '[record["step"], d_mel, record["nll"]]',
        },
        "the params column left out of the table": {
            "| d_mel | params | NLL": "| d_mel | NLL",
            "|---|---|---|---|---|": "|---|---|---|---|",
            "| {r['d_mel']} | {r['params']} |": "| {r['d_mel']} |",
        },
        "top-1 as a fraction, not a percentage": {ROW: ROW.replace("{100 * r['acc']:.2f}%", "{r['acc']:.4f}")},
        "perplexity as 2 ** NLL in the table": {ROW: ROW.replace("{r['ppl']:.3f}", "{2 ** r['nll']:.3f}")},
    },
}
