"""Corpora, the builders that make them, and the feature cache."""
