"""Not documentation: makes `python -m docs.experiments.probes.NAME` run (see that folder)."""
