"""Behaviour detectors: one module a family, each a :class:`engine.runner.Detector`."""
