"""Text-to-motion retrieval: shared library behind the DVC stage scripts in src/."""
