"""`wood eval detect`: COCO mAP for a YOLO run, beside Ultralytics' val."""
