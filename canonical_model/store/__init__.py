"""The canonical store: documents, inbox ledger, raw archive, quarantine, outbox, audit log."""
from canonical_model.store.db import Store, open_store

__all__ = ["Store", "open_store"]
