"""Answers a student could plausibly give to assignment 6, each of which must lose points.

question -> {what is wrong: the answer}; an answer is {text of the solution cell: what replaces it} or
a whole cell. ``python assignments/grade_answers.py 06-sampling`` grades them; ``make test`` requires
each to lose points of its question (``tests/test_assignments.py``).
"""

WRONG_ANSWERS = {
    "q1": {
        "logits multiplied by the temperature": {"logits.float() / temperature": "logits.float() * temperature"},
        "ties with the k-th logit dropped, and the k-th with them": {"scaled < kth": "scaled <= kth"},
        "top-p drops the token that crosses p": {
            "drop = sorted_probs.cumsum(-1) - sorted_probs >= top_p": "drop = sorted_probs.cumsum(-1) > top_p"
        },
        "top-p not renormalised": {"        probs = probs / probs.sum(-1, keepdim=True)\n": ""},
        "softmax over the batch axis": {"probs = scaled.softmax(dim=-1)": "probs = scaled.softmax(dim=0)"},
    },
    "q2": {
        "the most likely token, always (greedy)": {
            "return torch.multinomial(probs, 1, generator=generator)[:, 0]": "return probs.argmax(-1)"
        },
        "temperature and truncation not passed on": {
            "probs = sampling_probs(logits, temperature, top_k, top_p)": "probs = sampling_probs(logits)"
        },
    },
    "q3": {
        "entropy in nats, not bits": {"probs.log2()": "probs.log()"},
        "0 log 0 not handled: NaN where a probability is 0": {
            "logs = torch.where(probs > 0, probs.log2(), torch.zeros_like(probs))": "logs = probs.log2()"
        },
        "the sign forgotten": {"return -(probs * logs).sum(-1)": "return (probs * logs).sum(-1)"},
    },
}
