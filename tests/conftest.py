import pytest
from django.contrib.auth import get_user_model

from tests import services

PASSWORD = "correct-horse-battery-9"


def make_user(username: str):
    return get_user_model().objects.create_user(
        username=username, email=f"{username}@example.org", password=PASSWORD
    )


@pytest.fixture
def alice(db):
    return make_user("alice")


@pytest.fixture
def bob(db):
    return make_user("bob")


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    with services.redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url
