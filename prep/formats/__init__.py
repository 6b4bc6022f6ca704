"""Annotation formats: pure converters to YOLO lines and COCO dicts, COCO masks, layout and polygons."""
