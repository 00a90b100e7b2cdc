"""Accounts: look-alike usernames refused at sign-up (finding 9), login throttled per
username + IP (finding 10), password reset only with working email, and answering the same
whether or not the address has an account (finding 14)."""

from __future__ import annotations

import http.cookiejar
import logging
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.test import Client, override_settings

from tests.conftest import make_user
from tests.support.accounts import create_user
from tests.support.accounts import login as http_login

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


# --- finding 14: password reset --------------------------------------------------------

RESET_URLS = [
    "/accounts/password_reset/",
    "/accounts/password_reset/done/",
    "/accounts/reset/MQ/set-password/",
    "/accounts/reset/done/",
]


@override_settings(PASSWORD_RESET_ENABLED=False)
@pytest.mark.parametrize("url", RESET_URLS)
def test_password_reset_is_404_without_email(url):
    assert Client().get(url).status_code == 404
    assert Client().post(url, {"email": "a@example.com"}).status_code == 404


@override_settings(PASSWORD_RESET_ENABLED=False)
def test_login_page_has_no_reset_link_without_email():
    page = Client().get("/accounts/login/").content.decode()
    assert "password_reset" not in page
    assert "Forgot" not in page


@override_settings(PASSWORD_RESET_ENABLED=True)
def test_login_page_links_to_reset_with_email():
    page = Client().get("/accounts/login/").content.decode()
    assert 'href="/accounts/password_reset/"' in page
    response = Client().get("/accounts/password_reset/")
    assert response.status_code == 200
    assert 'class="site-header"' in response.content.decode()


class BlockingBackend(LocmemBackend):
    """Holds every send until the test releases it: a slow mail server."""

    release = threading.Event()
    entered = threading.Event()

    def send_messages(self, messages):
        BlockingBackend.entered.set()
        assert BlockingBackend.release.wait(10), "the test never released the send"
        return super().send_messages(messages)


@pytest.mark.django_db(transaction=True)  # the mail is sent from another thread
@override_settings(PASSWORD_RESET_ENABLED=True, EMAIL_BACKEND="tests.test_accounts.BlockingBackend")
def test_reset_answers_the_same_for_known_and_unknown_emails_before_sending():
    from chat import accounts

    make_user("alice", PASSWORD, email="alice@example.com")
    BlockingBackend.release.clear()
    BlockingBackend.entered.clear()
    answers = []
    for email in ("nobody@example.com", "alice@example.com"):
        response = Client().post("/accounts/password_reset/", {"email": email})
        answers.append((response.status_code, response["Location"], response.content))
    # Both answered while the (blocked) send had not finished: the response does not wait
    # for the mail server, so neither its content nor its timing tells the two apart.
    assert answers[0] == answers[1] == (302, "/accounts/password_reset/done/", b"")
    assert mail.outbox == []
    BlockingBackend.release.set()
    accounts.wait_for_mail(timeout=10)
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    body = mail.outbox[0].body
    link = re.search(r"http://testserver(/accounts/reset/[^/]+/[^/]+/)", body)
    assert link, body
    # The link works: it leads to the set-password form.
    response = Client().get(link.group(1), follow=True)
    assert response.status_code == 200
    assert 'name="new_password1"' in response.content.decode()


@pytest.mark.django_db(transaction=True)
@override_settings(PASSWORD_RESET_ENABLED=True)
def test_reset_mail_failure_is_logged_not_shown(caplog, monkeypatch):
    from chat import accounts

    def fail(*args, **kwargs):
        raise ConnectionRefusedError("no mail server")

    monkeypatch.setattr(LocmemBackend, "send_messages", fail)
    # The site's logger for it does not propagate to the root, where caplog listens.
    auth_log = logging.getLogger("django.contrib.auth")
    monkeypatch.setattr(auth_log, "handlers", [*auth_log.handlers, caplog.handler])
    make_user("alice", PASSWORD, email="alice@example.com")
    response = Client().post("/accounts/password_reset/", {"email": "alice@example.com"})
    assert response.status_code == 302
    accounts.wait_for_mail(timeout=10)
    # Logged (by Django's form, on the mail thread) for the operator; the user saw the
    # same "check your inbox" as for any address.
    assert "Failed to send password reset email" in caplog.text
    assert "no mail server" in caplog.text


@pytest.mark.django_db(transaction=True)
@override_settings(PASSWORD_RESET_ENABLED=True)
def test_a_stranger_cannot_fill_someones_inbox_with_reset_mails():
    """Anyone may ask for a reset of any address: past CHAT_RESET_MAIL_BURST (3) the form
    still answers "check your inbox", but no more mail goes to that address; another
    address is not held back by it."""
    from chat import accounts

    make_user("alice", PASSWORD, email="alice@example.com")
    make_user("bob", PASSWORD, email="bob@example.com")
    for email in ["alice@example.com", "ALICE@example.com "] * 3 + ["bob@example.com"]:
        response = Client().post("/accounts/password_reset/", {"email": email})
        assert (response.status_code, response["Location"]) == (
            302,
            "/accounts/password_reset/done/",
        )
    accounts.wait_for_mail(timeout=10)
    sent = sorted(address for m in mail.outbox for address in m.to)
    assert sent == ["alice@example.com"] * 3 + ["bob@example.com"]


# --- the lockout through a real daphne process (Django's async handler path) ------------


def live_login_status(base_url: str, username: str, password: str) -> int:
    """Post the login form as a browser does; the status of the answer (no redirects)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    page = opener.open(f"{base_url}/accounts/login/", timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = {"username": username, "password": password, "csrfmiddlewaretoken": token}
    request = urllib.request.Request(
        f"{base_url}/accounts/login/",
        data=urllib.parse.urlencode(form).encode(),
        headers={"Referer": f"{base_url}/accounts/login/"},
    )
    try:
        with opener.open(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as err:
        body = err.read().decode()
        assert err.code != 429 or "Too many failed login attempts" in body, body[:500]
        return err.code


@pytest.mark.e2e
def test_live_server_locks_out_and_lets_others_in(live_env, live_server_factory):
    create_user(live_env, "alice", PASSWORD)
    create_user(live_env, "bob", PASSWORD)
    server = live_server_factory()
    for _ in range(LIMIT - 1):
        assert live_login_status(server.url, "alice", "wrong") == 200
    assert live_login_status(server.url, "alice", "wrong") == 429
    assert live_login_status(server.url, "alice", PASSWORD) == 429
    assert live_login_status(server.url, "bob", PASSWORD) == 302  # same address, other name
    assert http_login(server.url, "bob", PASSWORD).startswith("sessionid=")
