"""Evaluation: COCO detection mAP, segmentation IoU/Dice, classification accuracy, reports."""
