"""The data layer: MVTec AD reader, mask -> instances, splits, YOLO/COCO/classify writers, synth."""
