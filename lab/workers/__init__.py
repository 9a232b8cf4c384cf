"""Processes that run several of the lab's services together (the top layer, beside the CLI)."""
