"""Dialogue runtime: flows are YAML data (dialogues/*.yml); commands, buttons, pending questions, intents and
deep links are handlers registered in ``registry.Registry``; a turn reaches the bot only through its ports."""
