"""Accounts: look-alike usernames refused at sign-up (finding 9), login throttled
per username + IP (finding 10)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tests.conftest import make_user

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-123"
NEW_PASSWORD = "s3cret-Passw0rd!"
LIMIT = 5  # settings.AXES_FAILURE_LIMIT, written out so the test fails if it grows


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


# --- finding 10: login throttling ------------------------------------------------------


def login(client: Client, username: str, password: str, url: str = "/accounts/login/"):
    return client.post(url, {"username": username, "password": password})


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_wrong_passwords_lock_the_username_from_that_ip():
    make_user("alice", PASSWORD)
    client = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(LIMIT - 1):
        response = login(client, "alice", "wrong")
        assert response.status_code == 200  # the form with its error, not yet locked
    response = login(client, "alice", "wrong")
    assert response.status_code == 429
    # The right password is refused too while the lock lasts.
    response = login(client, "alice", PASSWORD)
    assert response.status_code == 429
    assert not logged_in(client)
    page = response.content.decode()
    assert "Too many failed login attempts" in page
    assert "15 minutes" in page
    assert 'class="site-header"' in page  # the site's own layout


def test_lockout_is_per_username_and_ip_combination():
    make_user("alice", PASSWORD)
    make_user("bob", PASSWORD)
    attacker = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(LIMIT):
        login(attacker, "alice", "wrong")
    assert login(attacker, "alice", PASSWORD).status_code == 429
    # Another username from the same address is not locked...
    assert login(attacker, "bob", PASSWORD).status_code == 302
    assert logged_in(attacker)
    # ...and the victim, from her own address, still gets in.
    victim = Client(REMOTE_ADDR="198.51.100.20")
    assert login(victim, "alice", PASSWORD).status_code == 302
    assert logged_in(victim)


def test_successful_logins_do_not_count_and_reset_the_failures():
    make_user("alice", PASSWORD)
    client = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(LIMIT + 2):
        assert login(Client(REMOTE_ADDR="203.0.113.7"), "alice", PASSWORD).status_code == 302
    for _ in range(LIMIT - 1):
        login(client, "alice", "wrong")
    assert login(client, "alice", PASSWORD).status_code == 302
    # A success wiped the count: another LIMIT - 1 typos do not lock her out.
    for _ in range(LIMIT - 1):
        assert login(Client(REMOTE_ADDR="203.0.113.7"), "alice", "wrong").status_code == 200
    assert login(Client(REMOTE_ADDR="203.0.113.7"), "alice", PASSWORD).status_code == 302


def test_lockout_ends_after_the_cool_off():
    from axes.models import AccessAttempt

    make_user("alice", PASSWORD)
    client = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(LIMIT):
        login(client, "alice", "wrong")
    assert login(client, "alice", PASSWORD).status_code == 429
    # 16 minutes later (the attempts' clock moved back rather than waiting).
    earlier = timedelta(minutes=16)
    for attempt in AccessAttempt.objects.all():
        AccessAttempt.objects.filter(pk=attempt.pk).update(
            attempt_time=attempt.attempt_time - earlier
        )
    assert login(client, "alice", PASSWORD).status_code == 302


def test_admin_login_works_and_is_throttled_too():
    make_user("boss", PASSWORD, is_staff=True, is_superuser=True)
    url = "/admin/login/?next=/admin/"
    client = Client(REMOTE_ADDR="203.0.113.7")
    response = login(client, "boss", PASSWORD, url)
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    attacker = Client(REMOTE_ADDR="203.0.113.8")
    for _ in range(LIMIT):
        login(attacker, "boss", "wrong", url)
    assert login(attacker, "boss", PASSWORD, url).status_code == 429
