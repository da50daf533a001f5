"""Siemens Opcenter Execution (Foundation: OAuth2 + OData) adapter; the client API is ``mes.OpcenterMes``."""
from adapters.opcenter.config import OpcenterConfig
from adapters.opcenter.hook import OpcenterHook

__all__ = ["OpcenterConfig", "OpcenterHook"]
