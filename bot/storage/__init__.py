"""MongoDB storage, one module per collection; each store creates its own indexes in ``ensure_indexes``."""
from bot.storage.database import Stores, connect

__all__ = ["Stores", "connect"]
