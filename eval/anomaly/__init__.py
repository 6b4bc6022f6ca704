"""Anomaly metrics and `wood eval anomaly`: image and pixel AUROC, AUPRO, F1-max, recall at a val threshold."""
