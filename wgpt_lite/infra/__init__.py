"""Plumbing: files, settings, devices, processes, installation."""
