"""wood: fine-tune detection and segmentation models on MVTec AD defect images, offline.

The code lives in the top-level folders prep/, finetune/ and eval/ and is importable as
``wood.prep``, ``wood.finetune`` and ``wood.eval``.
"""

__version__ = "0.1.0"
