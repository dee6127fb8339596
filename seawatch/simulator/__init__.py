"""The labelled traffic simulator behind ``seawatch simulate`` (see :mod:`seawatch.simulator.scenario`)."""
