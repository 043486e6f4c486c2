"""Everything that writes the challenge layout: the synthetic generator and the importers."""
