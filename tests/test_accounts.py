"""Accounts: look-alike usernames refused at sign-up (finding 9)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tests.conftest import make_user

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "s3cret-Passw0rd!"


def signup(username: str, client: Client | None = None):
    client = client or Client()
    return client.post(
        "/accounts/signup/",
        {"username": username, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )


def username_errors(response) -> list[str]:
    assert response.status_code == 200, response.status_code  # the form again, not a redirect
    form = response.context["form"]
    return [str(e) for e in form.errors.get("username", [])]


# --- finding 9: look-alike usernames ----------------------------------------------------


def test_signup_refuses_mixed_script_lookalike_even_with_no_such_user():
    # "alice" with a Cyrillic a (U+0430) first: it reads as "alice", which anyone may
    # sign up as later; refused on its own.
    response = signup("\u0430lice")
    errors = username_errors(response)
    assert errors and "alphabets" in errors[0], errors
    assert not get_user_model().objects.exists()


@pytest.mark.parametrize(
    "lookalike",
    [
        "\u0441\u043e\u0440\u0435",  # all Cyrillic, not mixed: reads "cope"
        "\u0421\u041e\u0420\u0415",  # Cyrillic capitals: reads "COPE"
        "c0pe",  # a zero for the o
        "COPE",  # a case-insensitive duplicate (Django's own check)
        "Cope",
    ],
)
def test_signup_refuses_lookalike_of_existing_user(lookalike):
    make_user("cope")
    errors = username_errors(signup(lookalike))
    assert errors, f"{lookalike!r} was accepted next to 'cope'"
    assert get_user_model().objects.count() == 1


# a one for the l; a capital i for the l; a fullwidth a (NFKC makes it "alice").
@pytest.mark.parametrize("lookalike", ["a1ice", "AIice", "\uff41lice"])
def test_signup_refuses_skeleton_collisions_case_insensitively(lookalike):
    make_user("alice")
    errors = username_errors(signup(lookalike))
    assert errors, f"{lookalike!r} was accepted next to 'alice'"
    assert get_user_model().objects.count() == 1


def test_lookalike_error_names_the_existing_user_in_plain_words():
    make_user("cope")
    errors = username_errors(signup("\u0441\u043e\u0440\u0435"))
    assert errors == [
        "This username looks too much like the existing user “cope”. Please choose another."
    ]
    page = signup("\u0441\u043e\u0440\u0435").content.decode()
    assert "looks too much like the existing user" in page


@pytest.mark.parametrize(
    "name",
    [
        "алиса",
        "José",
        "bob_2",
        "o.k-name+x@y",
        "김철수",
        # Japanese mixes kanji, hiragana and katakana (and へ/ヘ look alike): one writing
        # system, not a disguise. Latin next to it has nothing that passes for a kana.
        "山田たろう",
        "やまだタロウ",
        "へいたヘイタ",
        "taro_たろう",
    ],
)
def test_signup_accepts_names_of_one_writing_system(name):
    response = signup(name)
    assert response.status_code == 302, response.context["form"].errors
    assert get_user_model().objects.filter(username=name).exists()


def test_signup_still_logs_in_and_redirects():
    client = Client()
    response = signup("newcomer", client)
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
