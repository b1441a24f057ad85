"""chimeqda: framework-based qualitative analysis of recovery narratives, offline."""

__version__ = "0.1.0"
