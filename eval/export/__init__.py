"""`wood export`: trained models to ONNX, checked against PyTorch (yolo.py: detectors, sam.py: SAM)."""
