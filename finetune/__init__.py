"""Fine-tuning: YOLO (detect/segment), YOLO-World, SAM adapters, classification baselines."""
