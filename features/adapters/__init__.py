"""features/adapters."""
