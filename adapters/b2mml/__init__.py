"""ISA-95 B2MML XML: the official MESA schemas, a safe parser, canonical <-> B2MML (see README.md)."""
