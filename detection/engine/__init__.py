"""The detection engine: plain PyTorch / OpenCV code with no Django imports.

It runs anywhere a checkpoint and a video are at hand (a Celery worker, a GPU box, the
``detect`` management command). Import from the module that does the job:

- ``errors``      VideoError, CheckpointError: the only exceptions meant for people
- ``video``       probe a file, choose frame indices, decode those frames (BGR, upright)
- ``faces``       find the largest face per frame (HOG on a downscaled copy), crop boxes
- ``preprocess``  face crop -> 112x112 -> normalised tensor, in the checkpoint's channel order
- ``model``       ResNeXtLSTM: the published ``seed`` layout and our ``temporal`` variant
- ``checkpoint``  load the seed's bare state_dict or our self-describing format; save ours
- ``cam``         Grad-CAM on the backbone's last block, and colour overlays
- ``predictor``   Predictor: video in, Prediction (plain dataclass) out

This package imports nothing itself, so ``from detection.engine.video import probe`` in a
web process does not pull in PyTorch.
"""
