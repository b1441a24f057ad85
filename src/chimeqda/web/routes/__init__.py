"""Route modules, one per part of the workspace."""
