"""`wood eval segment`: SAM runs (and zero-shot SAM) scored on a split with GT or YOLO boxes."""
