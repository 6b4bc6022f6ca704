"""Using a trained run: `wood predict`, `wood export` (ONNX + parity) and `wood label` (pre-labelling)."""
