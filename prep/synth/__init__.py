"""`wood synth`: procedural wood texture and defects in exact MVTec AD layout."""
