"""Answers a student could plausibly give to assignment 3, each of which must lose points.

question -> {what is wrong: the answer}; an answer is {text of the solution cell: what replaces it} or
a whole cell. ``python assignments/grade_answers.py 03-metrics`` grades them; ``make test`` requires
each to lose points of its question (``tests/test_assignments.py``).
"""

STABLE = "log_probs = logits.float() - torch.logsumexp(logits.float(), dim=-1, keepdim=True)"

BATCH_MEANS = """\
def score(model, eval_batch, batch_size=32):
    tokens, mel = eval_batch
    nlls, accuracies = [], []
    with torch.no_grad():
        for start in range(0, tokens.shape[0], batch_size):
            ids, frames = tokens[start : start + batch_size], mel[start : start + batch_size]
            logits, _ = model(ids[:, :-1], mel=frames[:, :-1])
            logits, targets = logits.flatten(0, 1), ids[:, 1:].flatten()
            nlls.append(nll_from_logits(logits, targets))
            accuracies.append(top1_accuracy(logits, targets))
    nll = sum(nlls) / len(nlls)
    return {"nll": nll, "ppl": perplexity(nll), "acc": sum(accuracies) / len(accuracies)}


mine, kit = score(model, eval_batch), wl.evaluate(model, eval_batch)
"""

WRONG_ANSWERS = {
    "q1": {
        "bits (log2) instead of nats": {"-log_probs.gather": "-(log_probs / math.log(2)).gather"},
        "summed instead of averaged": {".mean().item()": ".sum().item()"},
        "the sign forgotten": {"return -log_probs": "return log_probs"},
        "unstable: exp of the raw logits": {
            STABLE: "log_probs = (logits.exp() / logits.exp().sum(-1, keepdim=True)).log()"
        },
        "softmax, then log: -inf for very unlikely targets": {STABLE: "log_probs = logits.softmax(-1).log()"},
        "the mean over every token of the vocabulary, not the targets": {
            "-log_probs.gather(-1, targets[:, None]).mean()": "-log_probs.mean()"
        },
    },
    "q2": {
        "perplexity as 2 ** NLL": {"return math.exp(nll)": "return 2**nll"},
        "perplexity as exp(-NLL)": {"return math.exp(nll)": "return math.exp(-nll)"},
        "accuracy as a count": {".float().mean().item()": ".sum().item()"},
        "accuracy as a percentage": {".float().mean().item()": ".float().mean().item() * 100"},
    },
    "q3": {
        "the mean of the batch means": BATCH_MEANS,
        "targets not shifted: the model scored on its own input": {"ids[:, 1:].flatten()": "ids[:, :-1].flatten()"},
        "the last, smaller batch dropped": {
            "range(0, tokens.shape[0], batch_size)": "range(0, tokens.shape[0] - batch_size + 1, batch_size)"
        },
        "accuracy as the mean of the batch accuracies": {
            "correct += (logits.argmax(-1) == targets).sum().item()": (
                "correct += (logits.argmax(-1) == targets).float().mean().item()"
            ),
            '"acc": correct / count': '"acc": correct / len(range(0, tokens.shape[0], batch_size))',
        },
    },
    "q4": {
        "nats times log 2 instead of divided": {"nll / math.log(2)": "nll * math.log(2)"},
        "per token, not per second": {"nll / math.log(2) * wl.FRAME_RATE": "nll / math.log(2)"},
        "the paper's NLLs not converted": {"name: bits_per_second(nll) for": "name: nll for"},
        "GPT-L's and the hybrid's NLLs swapped": {
            '("gpt-l", 1.94), ("hybrid", 1.93)': '("gpt-l", 1.93), ("hybrid", 1.94)'
        },
    },
}
