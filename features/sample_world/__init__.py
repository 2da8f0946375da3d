"""The realistic sample world behind ``butler generate``.

Writes every platform's own export files (through the adapters' contracts) for a fictional
brand, plus the ground truth under ``_truth/``.
"""

from features.sample_world.world import DEFAULT_START, WorldSummary, generate

__all__ = ["DEFAULT_START", "WorldSummary", "generate"]
