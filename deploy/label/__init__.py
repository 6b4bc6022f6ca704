"""`wood label`: a detector (optionally SAM on its boxes) pre-labels new images for CVAT, Label Studio, COCO or YOLO.

- config.py: LabelConfig (the options);
- prelabel.py: the predictions per image (boxes, scores, masks) and the command's flow;
- shapes.py: a mask as COCO polygons (where exact) or RLE, and as YOLO-seg lines;
- brush.py: Label Studio's own brush RLE (what label-studio-sdk's converter.brush decodes);
- formats.py: the four outputs, each as its tool imports it;
- rank.py: the review order (least certain images first).
"""
