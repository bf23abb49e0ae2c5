"""factory_boy factories for the models tests need in bulk or in a given state."""

from __future__ import annotations

import uuid

import factory
from django.contrib.auth import get_user_model

PASSWORD = "correct-horse-battery-9"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def saved(user, create, extracted, **kwargs):
        if create:
            user.save()


class AnalysisFactory(factory.django.DjangoModelFactory):
    """A row as analysis_create leaves it (queued), without a stored video: for tests of the
    lifecycle and of queries, which never read the file."""

    class Meta:
        model = "detection.Analysis"

    id = factory.LazyFunction(uuid.uuid4)
    owner = factory.SubFactory(UserFactory)
    original_name = factory.Sequence(lambda n: f"clip-{n}.mp4")
    video = factory.LazyAttribute(lambda analysis: f"analyses/{analysis.id}/video.mp4")
    size_bytes = 1000
    sha256 = "0" * 64
    container = "mp4"
    duration_seconds = 1.0
    width = 320
    height = 240
    fps = 25.0
