"""Ultralytics YOLO and YOLO-World: config, prepared-data checks, model loading, training, text encoders."""
