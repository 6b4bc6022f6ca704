"""Segment Anything fine-tuning: variants, LoRA / adapter / decoder modes, data, loss, training loop, weights I/O."""
