"""WMS adapter (GreaterWMS REST dialect); see README.md."""
