"""features/views."""
