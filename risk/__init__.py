"""Stress scenarios, the stress runner, reverse stress, sensitivities and executors."""
