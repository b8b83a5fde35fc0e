"""Confinement code both the host and the sandbox side use."""
