"""`wood import`: corrected labels (COCO, CVAT "COCO 1.0", YOLO-seg) back into the MVTec AD layout `wood prep` reads.

- sources.py: where the labels and their images are (a COCO json, an export folder or zip, a YOLO-seg folder);
- rle.py: checks of COCO segmentations before pycocotools sees them (malformed RLE, short polygons);
- masks.py: one image's annotations -> its defect type and 0/255 mask;
- write.py: the category folder (test/<defect>/NNN.png, ground_truth/<defect>/NNN_mask.png, test/good/).
"""
