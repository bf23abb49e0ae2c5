"""The seed project's model and inference, written the way the seed wrote them.

Taken from the seed's Flask ``server.py`` (detect-deepfake): the same class, the same
dataset code, the same transforms, the same softmax. Changes that alter no number: the
backbone is built with ``weights=None`` instead of ``pretrained=True`` (tests never download),
the unused random ``first_frame`` is gone, ``nn.Softmax()`` spells out its implicit ``dim=1``
and the bare ``except:`` catches ``Exception``. Tests compare the engine against this, so do
not "fix" it (hence the lint exemptions below).
"""

# ruff: noqa: UP008, B007

from __future__ import annotations

import cv2
import face_recognition
import numpy as np
import torch
from torch import nn
from torchvision import models, transforms

im_size = 112
mean = [0.485, 0.456, 0.406]
std = [0.229, 0.224, 0.225]
sm = nn.Softmax(dim=1)  # the seed wrote nn.Softmax(), whose implicit dim for 2-D input is 1


class Model(nn.Module):
    def __init__(self, num_classes, latent_dim=2048, lstm_layers=1, hidden_dim=2048, bidirectional=False):
        super(Model, self).__init__()
        model = models.resnext50_32x4d(weights=None)
        self.model = nn.Sequential(*list(model.children())[:-2])
        self.lstm = nn.LSTM(latent_dim, hidden_dim, lstm_layers, bidirectional)
        self.relu = nn.LeakyReLU()
        self.dp = nn.Dropout(0.4)
        self.linear1 = nn.Linear(2048, num_classes)
        self.avgpool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        batch_size, seq_length, c, h, w = x.shape
        x = x.view(batch_size * seq_length, c, h, w)
        fmap = self.model(x)
        x = self.avgpool(fmap)
        x = x.view(batch_size, seq_length, 2048)
        x_lstm, _ = self.lstm(x, None)
        return fmap, self.dp(self.linear1(x_lstm[:, -1, :]))


train_transforms = transforms.Compose(
    [
        transforms.ToPILImage(),
        transforms.Resize((im_size, im_size)),
        transforms.ToTensor(),
        transforms.Normalize(mean, std),
    ]
)


def frame_extract(path):
    vidObj = cv2.VideoCapture(str(path))
    success = 1
    while success:
        success, image = vidObj.read()
        if success:
            yield image


def video_item(video_path, count=20, transform=train_transforms):
    """ValidationDataset.__getitem__ of the seed."""
    frames = []
    for i, frame in enumerate(frame_extract(video_path)):
        faces = face_recognition.face_locations(frame)
        try:
            top, right, bottom, left = faces[0]
            frame = frame[top:bottom, left:right, :]
        except Exception:
            pass
        frames.append(transform(frame))
        if len(frames) == count:
            break
    frames = torch.stack(frames)
    frames = frames[:count]
    return frames.unsqueeze(0)


def predict(model, img):
    """The seed's predict(): returns [class index, confidence in %] and the softmax row."""
    with torch.no_grad():
        fmap, logits = model(img)
        logits = sm(logits)
        _, prediction = torch.max(logits, 1)
        confidence = logits[:, int(prediction.item())].item() * 100
    return [int(prediction.item()), confidence], logits[0]


def make_seed_model(seed: int = 0) -> Model:
    """Random weights that behave like a trained network's, with per-frame scores that differ.

    Untouched BatchNorm statistics let activations shrink towards denormal floats (slow and
    unlike a trained model), so they are measured on face crops first; the classifier is
    scaled so probabilities spread over roughly 0.2 to 0.85 instead of all sitting near 0.5.
    """
    from tests.videos import face_frames

    torch.manual_seed(seed)
    model = Model(2)
    calibration = torch.stack([train_transforms(f[60:200, 90:230].copy()) for f in face_frames(320, 240, 16)])
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # a plain average over the calibration batch
    model.train()
    with torch.no_grad():
        model.model(calibration)
        model.linear1.weight.mul_(30.0)
    return model.eval()


def seed_crop_faces(video_path, count=20) -> list[np.ndarray]:
    """The BGR crops the seed fed to its transform (for tests that compare crops)."""
    crops = []
    for frame in frame_extract(video_path):
        faces = face_recognition.face_locations(frame)
        crops.append(frame[faces[0][0] : faces[0][2], faces[0][3] : faces[0][1], :] if faces else frame)
        if len(crops) == count:
            break
    return crops


def write_seed_checkpoint(path, seed: int = 0):
    """Save a random-weight model's bare state_dict, exactly as the seed's checkpoint.pt is."""
    model = make_seed_model(seed)
    torch.save(model.state_dict(), path)
    return model
