"""features/sample_world."""
