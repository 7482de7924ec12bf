"""Makes the probes beside the notes importable: `python -m docs.experiments.probes.NAME`."""
