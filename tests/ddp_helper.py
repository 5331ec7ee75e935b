"""What test_distributed.py runs under torchrun: ``train`` on test_train.py's synthetic features.

    torchrun --nproc_per_node 2 tests/ddp_helper.py RUN_DIR [UNTIL] [resume]

Every rank builds the same data and model, as ``train``'s callers do under torchrun.
"""

import sys
from dataclasses import replace

from test_train import CONFIG, fresh_model, run_info, synthetic_features

from wgpt_lite.batches import eval_crops
from wgpt_lite.infra import distributed
from wgpt_lite.runs.run_folder import train_in_folder

BUDGET = replace(CONFIG, patience=2)  # 20 steps at most, batch 4: early stopping's decision crosses the ranks


def run(run_dir: str, until: int | None = None, resume: bool = False) -> dict:
    eval_batch = eval_crops(synthetic_features(seed=1), BUDGET.context, BUDGET.eval_crops, seed=0)
    return train_in_folder(
        fresh_model(),
        synthetic_features(),
        eval_batch,
        BUDGET,
        run_dir,
        run_info(),
        until=until,
        resume=resume,
        progress=False,
    )


if __name__ == "__main__":
    with distributed.process_group():
        run(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else None, resume="resume" in sys.argv)
