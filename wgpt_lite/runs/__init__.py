"""Run folders: checkpoints, the run log, resume, early stopping, the lock."""
