"""Sweeps of training runs on Ray, and their report."""
