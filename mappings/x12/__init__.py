"""ANSI X12 mappings (``<ST01>_<version>.yaml``); golden cases (``.x12``) run by mappings/golden.py."""
