"""Kingdee K/3 Cloud (金蝶云星空) adapter: WebAPI hook, typed config, error classification, translation."""
from adapters.kingdee.config import KingdeeConfig
from adapters.kingdee.hook import KingdeeHook
from adapters.kingdee.translate import receipt_to_instock_model

__all__ = ["KingdeeConfig", "KingdeeHook", "receipt_to_instock_model"]
