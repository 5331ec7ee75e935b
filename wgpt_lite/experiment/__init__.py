"""The comparison: reproduce, results, controls, baselines, sweeps."""
