"""Figures, widgets and reports for people."""
