import pytest

from tests import processes
from tests.factories import UserFactory
from tests.helpers import reset_celery_connections


@pytest.fixture(autouse=True)
def empty_cache():
    """Throttle and sign-in counters live in the cache: each test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path_factory):
    """Each test stores uploads in a folder of its own."""
    from dfdsite.storage import default_storage_settings

    root = tmp_path_factory.mktemp("media")
    settings.MEDIA_ROOT = root
    settings.STORAGES = {**settings.STORAGES, "default": default_storage_settings({}, root)}
    return root


@pytest.fixture
def alice(db):
    return UserFactory(username="alice")


@pytest.fixture
def bob(db):
    return UserFactory(username="bob")


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    with processes.redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(scope="session")
def checkpoint_path():
    """A small random-weight checkpoint of our own format in the test models folder,
    written once per session (the backbone is full size; the LSTM is kept small)."""
    import torch
    from django.conf import settings

    from detection.engine.checkpoint import CheckpointMetadata, save_checkpoint
    from detection.engine.model import BackboneLSTM

    path = settings.DFD_MODELS_DIR / "test-temporal.pt"
    if not path.exists():
        torch.manual_seed(0)
        model = BackboneLSTM(variant="temporal", hidden_size=32)
        save_checkpoint(model, path, CheckpointMetadata(variant="temporal", hidden_size=32,
                                                        training_data="random weights (tests)"))
    return path


@pytest.fixture
def detector(db, checkpoint_path):
    from detection import registry

    return registry.detector_register(path=checkpoint_path, name="Test detector", make_default=True)


@pytest.fixture
def own_detector(db, settings, tmp_path, checkpoint_path):
    """The default detector, registered from a copy of the test checkpoint in a models folder
    of this test's own: the test may remove or change its file."""
    import shutil

    from detection import registry

    settings.DFD_MODELS_DIR = tmp_path / "models"
    settings.DFD_MODELS_DIR.mkdir()
    path = shutil.copy(checkpoint_path, settings.DFD_MODELS_DIR / "own-detector.pt")
    return registry.detector_register(path=path, name="Own detector", make_default=True)


@pytest.fixture(scope="session")
def face_video_bytes(tmp_path_factory) -> bytes:
    from tests.videos import face_video

    return face_video(tmp_path_factory.mktemp("videos") / "face.mp4", seconds=1.0).read_bytes()


@pytest.fixture
def redis_broker(redis_url):
    """Send this process's tasks to the test Redis, on a queue no other test run listens to
    (a worker started by the test listens there)."""
    import uuid

    from dfdsite.celery import app

    queue = f"test-{uuid.uuid4().hex[:12]}"
    names = ("broker_url", "broker_transport_options", "task_default_queue", "task_routes")
    saved = {name: app.conf[name] for name in names}
    reset_celery_connections()
    app.conf.update(broker_url=redis_url, broker_transport_options={}, task_default_queue=queue,
                    task_routes={"detection.run_analysis": {"queue": queue}})
    yield {"url": redis_url, "queue": queue}
    reset_celery_connections()
    app.conf.update(saved)


@pytest.fixture
def s3_storage(settings, tmp_path_factory):
    """Uploads on a real SeaweedFS S3 server, for this process and the workers it starts."""
    from dfdsite.storage import default_storage_settings

    with processes.seaweedfs_s3(tmp_path_factory.mktemp("seaweedfs")) as s3:
        env = {key: value for key, value in s3.items() if key != "client"} | {"STORAGE_BACKEND": "s3"}
        settings.STORAGES = {**settings.STORAGES, "default": default_storage_settings(env, settings.MEDIA_ROOT)}
        yield {"env": env, "client": s3["client"], "bucket": s3["AWS_STORAGE_BUCKET_NAME"]}


@pytest.fixture
def start_worker(redis_broker, settings, tmp_path):
    """Start real Celery worker processes on the test database, broker, storage and models."""
    from django.db import connection

    started = []

    def start(storage_env: dict | None = None, pool: str = "solo", **extra):
        env = processes.django_env(
            DJANGO_DEBUG="1", DFD_VAR_DIR=str(tmp_path / "worker-var"), CELERY_BROKER_URL=redis_broker["url"],
            CELERY_DEFAULT_QUEUE=redis_broker["queue"],
            DATABASE_URL=processes.database_url_for(connection), DJANGO_MEDIA_ROOT=str(settings.MEDIA_ROOT),
            DFD_MODELS_DIR=str(settings.DFD_MODELS_DIR), **(storage_env or {}), **extra,
        )
        worker = processes.start_celery_worker(env, tmp_path / f"worker-{len(started)}.log",
                                               queues=redis_broker["queue"], pool=pool)
        worker.log_path = tmp_path / f"worker-{len(started)}.log"
        started.append(worker)
        return worker

    yield start
    for worker in started:
        processes.stop_process(worker)


# --- a tiny deepfake dataset built at test time (training / evaluation tests) ----------------


def _blended_head(seed: int = 0):
    """The astronaut's head with its face blended with a warped, colour-shifted copy of itself:
    a crude face swap, made at test time."""
    import cv2
    import numpy as np

    from detection.engine.faces import FaceDetector
    from tests.videos import astronaut_head

    head = astronaut_head()
    face = FaceDetector(max_side=None, margin=0.0).locate(head).face
    rng = np.random.default_rng(seed)
    height, width = head.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), rng.uniform(-4, 4), rng.uniform(0.94, 1.06))
    matrix[:, 2] += rng.uniform(-4, 4, 2)
    warped = cv2.warpAffine(head, matrix, (width, height), borderMode=cv2.BORDER_REFLECT).astype(np.float32)
    warped = np.clip(warped * rng.uniform(0.75, 1.3, size=(1, 1, 3)) + rng.uniform(-25, 25), 0, 255)
    mask = np.zeros((height, width), np.float32)
    centre = ((face.left + face.right) // 2, (face.top + face.bottom) // 2)
    cv2.ellipse(mask, centre, (face.width // 2, int(face.height * 0.6)), 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), 3)[..., None]
    return (mask * warped + (1 - mask) * head).astype(np.uint8)


def _frames_with_head(head, width: int, height: int, count: int, shift: float):
    import cv2

    from tests.videos import background

    for i in range(count):
        t = i / max(count - 1, 1)
        side = int(min(width, height) * (0.6 + 0.2 * t))
        sprite = cv2.resize(head, (side, side), interpolation=cv2.INTER_AREA)
        frame = background(width, height, (t + shift) % 1.0)
        left = min(max(int((0.3 + shift * 0.2 + 0.3 * t) * width) - side // 2, 0), width - side)
        top = min(max(height // 2 - side // 2, 0), height - side)
        frame[top : top + side, left : left + side] = sprite
        yield frame


def build_tiny_deepfake_dataset(root, videos_per_class: int = 3, images_per_class: int = 2, frames: int = 6):
    """ROOT/real and ROOT/fake: short 320x240 clips of the astronaut (real) or of its
    self-blended face (fake), plus a few still head images of each."""
    from pathlib import Path

    import cv2

    from tests.videos import astronaut_head, write_video

    root = Path(root)
    for label in ("real", "fake"):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(videos_per_class):
            head = astronaut_head() if label == "real" else _blended_head(seed=i)
            write_video(root / label / f"{label}-{i}.avi",
                        _frames_with_head(head, 320, 240, frames, shift=i / videos_per_class), codec="mjpg")
        for i in range(images_per_class):
            head = astronaut_head() if label == "real" else _blended_head(seed=100 + i)
            scale = 0.8 + 0.1 * i
            cv2.imwrite(str(root / label / f"{label}-still-{i}.png"),
                        cv2.resize(head, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))
    return root


@pytest.fixture(scope="session")
def tiny_deepfake_dataset(tmp_path_factory):
    return build_tiny_deepfake_dataset(tmp_path_factory.mktemp("tiny-deepfakes"))


@pytest.fixture(scope="session")
def tiny_face_cache(tmp_path_factory):
    """One face-crop cache folder for every test that trains or evaluates on the tiny dataset."""
    return tmp_path_factory.mktemp("tiny-facecache")
