"""Understanding citizens' messages: Rasa (intents, entities) plus local normalization."""
from bot.nlu.client import NluClient
from bot.nlu.interpret import CATEGORIES, ENTITIES, INTENTS, Interpretation
from bot.nlu.regions import Region

__all__ = ["CATEGORIES", "ENTITIES", "INTENTS", "Interpretation", "NluClient", "Region"]
