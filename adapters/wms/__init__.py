"""WMS adapter: GreaterWMS REST and Odoo JSON-RPC behind one contract (``contract.Wms``); see README.md."""
