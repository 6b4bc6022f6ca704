"""Defect-type classification: Simple CNN and ResNet18 (scratch, transfer, fine-tune), data, training, experiments."""
