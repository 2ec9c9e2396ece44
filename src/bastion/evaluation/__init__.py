"""Measuring detectors: metrics, labelled evaluation sets and the ``bastion eval`` reports."""
