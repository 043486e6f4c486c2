"""The procedural two-person motion-language dataset."""
