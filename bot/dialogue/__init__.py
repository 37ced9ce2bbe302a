"""Dialogue runtime: flows are YAML data (dialogues/*.yml); parsers and actions are named Python functions."""
