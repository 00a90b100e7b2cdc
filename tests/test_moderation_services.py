"""The moderation services' rules, called the way the admin calls them (sync)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from chat import permissions, services
from chat.errors import ChatError
from chat.models import AuditLog, Membership, Message, Room
from tests.support.accounts import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def den():
    owner = make_user("owner")
    room = services.create_room(slug="den", user=owner)
    return room


def user(name: str, **flags):
    return make_user(name, **flags)


def refused(fn, **kwargs) -> str:
    with pytest.raises(ChatError) as err:
        fn(**kwargs)
    return err.value.code


def test_ranks_decide_who_may_act_on_whom(den):
    owner = den.created_by
    mod, other_mod, bob = user("mod"), user("mod2"), user("bob")
    staff, other_staff = user("staff", is_staff=True), user("staff2", is_staff=True)
    services.set_role(room=den, actor=owner, user=mod, role="moderator")
    services.set_role(room=den, actor=owner, user=other_mod, role="moderator")

    assert [permissions.rank(den, u) for u in (staff, owner, mod, bob)] == [3, 2, 1, 0]
    assert refused(services.ban_user, room=den, actor=mod, user=other_mod) == "forbidden"
    assert refused(services.ban_user, room=den, actor=mod, user=owner) == "forbidden"
    assert refused(services.ban_user, room=den, actor=mod, user=mod) == "forbidden"
    assert refused(services.ban_user, room=den, actor=staff, user=other_staff) == "forbidden"
    assert refused(services.set_role, room=den, actor=mod, user=bob, role="moderator") == (
        "forbidden"
    )
    services.ban_user(room=den, actor=owner, user=other_mod, reason="rogue")
    services.ban_user(room=den, actor=staff, user="bob")
    assert refused(services.mute_user, room=den, actor=bob, user=mod) == "forbidden"
    # A refused action leaves no trace; the two bans and two appointments do.
    actions = list(AuditLog.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["role", "role", "ban", "ban"]


def test_a_ban_ends_when_it_expires_or_is_lifted(den):
    owner, bob = den.created_by, user("bob")
    services.ban_user(room=den, actor=owner, user=bob, minutes=30)
    now = timezone.now()
    assert permissions.is_banned(den, bob, now)
    assert not permissions.is_banned(den, bob, now + timedelta(minutes=31))
    assert services.open_room(slug="den", user=bob) is None
    Membership.objects.filter(user=bob).update(banned_until=now - timedelta(seconds=1))
    assert services.open_room(slug="den", user=bob) == den
    services.ban_user(room=den, actor=owner, user=bob)  # no minutes: until lifted
    assert services.open_room(slug="den", user=bob) is None
    services.unban_user(room=den, actor=owner, user=bob)
    assert services.open_room(slug="den", user=bob) == den


def test_mute_and_ban_refuse_posts_even_from_an_open_socket(den):
    owner, bob = den.created_by, user("bob")
    services.mute_user(room=den, actor=owner, user=bob, minutes=1)
    assert refused(services.post_message, room=den, user=bob, body="hi") == "forbidden"
    Membership.objects.filter(user=bob).update(muted_until=timezone.now() - timedelta(seconds=1))
    services.post_message(room=den, user=bob, body="hi again")
    services.ban_user(room=den, actor=owner, user=bob)
    assert refused(services.post_message, room=den, user=bob, body="still?") == "forbidden"
    assert list(Message.objects.values_list("body", flat=True)) == ["hi again"]


def test_a_resend_of_a_stored_message_is_not_refused(den):
    """An outbox resend of an already stored message is answered with it, whatever
    happened since (the message was accepted when it was sent)."""
    owner, bob = den.created_by, user("bob")
    first = services.post_message(room=den, user=bob, body="hi", client_id="c1")
    services.mute_user(room=den, actor=owner, user=bob)
    again = services.post_message(room=den, user=bob, body="hi", client_id="c1")
    assert (again.created, again.message.seq) == (False, first.message.seq)


def test_report_and_resolve(den):
    owner, bob, carol = den.created_by, user("bob"), user("carol")
    services.post_message(room=den, user=bob, body="awful")
    report = services.report_message(room=den, reporter=carol, seq=1, reason=" mean ")
    assert (report.reason, report.body) == ("mean", "awful")
    assert refused(services.report_message, room=den, reporter=carol, seq=2, reason="x") == (
        "bad_request"
    )
    assert refused(services.resolve_report, report=report, actor=carol) == "forbidden"
    services.resolve_report(report=report, actor=owner, note="talked to bob")
    report.refresh_from_db()
    assert report.resolved_by == owner and report.resolved_at is not None
    services.delete_message(room=den, actor=owner, seq=1)
    # A deleted message can no longer be reported.
    assert refused(services.report_message, room=den, reporter=owner, seq=1, reason="x") == (
        "bad_request"
    )


def test_room_settings_need_a_moderator_and_log_each_change(den):
    owner, bob = den.created_by, user("bob")
    assert refused(services.update_room, room=den, actor=bob, locked=True) == "forbidden"
    services.update_room(room=den, actor=owner, locked=True, slow_mode=15, reason="raid")
    services.update_room(room=den, actor=owner, locked=True)  # no change, no log
    room = Room.objects.get()
    assert (room.locked, room.slow_mode_seconds) == (True, 15)
    log = list(AuditLog.objects.order_by("id").values_list("action", "detail", "reason"))
    assert log == [("lock", "", "raid"), ("slow_mode", "15 s", "raid")]


def test_deactivation_is_for_staff_and_spares_superusers(den):
    bob, staff, root = user("bob"), user("staff", is_staff=True), user("root", is_superuser=True)
    assert refused(services.deactivate_user, actor=bob, user=staff) == "forbidden"
    assert refused(services.deactivate_user, actor=staff, user=root) == "forbidden"
    assert refused(services.deactivate_user, actor=staff, user=staff) == "forbidden"
    services.deactivate_user(actor=staff, user=bob, reason="spam account")
    bob.refresh_from_db()
    assert bob.is_active is False
    assert AuditLog.objects.get().action == "deactivate"


def test_rank_reads_staff_status_now_not_from_the_loaded_user(den):
    """A user object loaded before its staff flag changed (as a socket's is, at the
    handshake) must not keep, or miss, staff powers."""
    from django.contrib.auth import get_user_model

    owner, bob, carol = den.created_by, user("bob"), user("carol")
    staff = user("staff", is_staff=True)
    get_user_model().objects.filter(pk=staff.pk).update(is_staff=False)
    assert staff.is_staff  # the stale copy still says so
    assert permissions.rank(den, staff) == permissions.MEMBER
    assert refused(services.ban_user, room=den, actor=staff, user=owner) == "forbidden"
    assert refused(services.update_room, room=den, actor=staff, locked=True) == "forbidden"
    assert not permissions.is_banned(den, owner, timezone.now())
    assert Room.objects.get().locked is False

    get_user_model().objects.filter(pk=bob.pk).update(is_staff=True)
    assert permissions.rank(den, bob) == permissions.STAFF
    services.ban_user(room=den, actor=bob, user=carol)
    get_user_model().objects.filter(pk=bob.pk).update(is_active=False)
    assert permissions.rank(den, bob) == permissions.MEMBER
    assert [a.action for a in AuditLog.objects.all()] == ["ban"]


def test_a_member_cannot_tell_who_exists(den):
    """A non-moderator is refused the same way whether the name exists or not."""
    bob = user("bob")
    user("carol")
    for fn in (
        services.ban_user,
        services.unban_user,
        services.mute_user,
        services.unmute_user,
        services.kick_user,
    ):
        answers = []
        for name in ("carol", "no-such-user"):
            with pytest.raises(ChatError) as err:
                fn(room=den, actor=bob, user=name)
            answers.append((err.value.code, err.value.detail, err.value.extra))
        assert answers[0] == answers[1], fn
        assert answers[0][0] == "forbidden"


def test_only_the_rank_that_imposed_a_ban_or_mute_may_lift_or_change_it(den):
    owner, bob = den.created_by, user("bob")
    mod, staff = user("mod"), user("staff", is_staff=True)
    services.set_role(room=den, actor=owner, user=mod, role="moderator")

    services.ban_user(room=den, actor=staff, user=bob, reason="raid")
    services.mute_user(room=den, actor=staff, user=bob, minutes=60)
    for actor in (owner, mod):
        for fn, kind, extra in (
            (services.unban_user, "ban", {}),
            (services.ban_user, "ban", {"minutes": 1}),  # would shorten it
            (services.unmute_user, "mute", {}),
            (services.mute_user, "mute", {"minutes": 1}),
        ):
            with pytest.raises(ChatError) as err:
                fn(room=den, actor=actor, user=bob, **extra)
            assert err.value.code == "forbidden"
            assert err.value.detail.startswith(f"Staff imposed this {kind}; only staff can ")
    now = timezone.now()
    member = Membership.objects.get(user=bob)
    assert member.is_banned(now) and member.banned_until is None and member.ban_reason == "raid"
    assert member.is_muted(now) and member.muted_until > now + timedelta(minutes=59)
    services.unban_user(room=den, actor=staff, user=bob)
    services.unmute_user(room=den, actor=staff, user=bob)
    member.refresh_from_db()
    assert not member.is_banned(now) and not member.is_muted(now)

    # The owner's ban binds the moderators; the owner (or staff) lifts it.
    services.ban_user(room=den, actor=owner, user=bob)
    with pytest.raises(ChatError) as err:
        services.unban_user(room=den, actor=mod, user=bob)
    assert (err.value.code, err.value.detail) == (
        "forbidden",
        "The room's owner imposed this ban; only the owner or staff can lift it.",
    )
    assert permissions.is_banned(den, bob, timezone.now())
    services.unban_user(room=den, actor=owner, user=bob)
    assert not permissions.is_banned(den, bob, timezone.now())

    # A moderator's restriction any moderator may lift, as before.
    mod2 = user("mod2")
    services.set_role(room=den, actor=owner, user=mod2, role="moderator")
    services.mute_user(room=den, actor=mod, user=bob)
    services.unmute_user(room=den, actor=mod2, user=bob)

    # A staff ban that has run out binds no one.
    services.ban_user(room=den, actor=staff, user=bob, minutes=5)
    Membership.objects.filter(user=bob).update(banned_until=timezone.now() - timedelta(seconds=1))
    services.ban_user(room=den, actor=owner, user=bob, minutes=5)
    services.unban_user(room=den, actor=owner, user=bob)
    actions = list(AuditLog.objects.order_by("id").values_list("action", "actor__username"))
    assert actions[-4:] == [
        ("unmute", "mod2"),
        ("ban", "staff"),
        ("ban", "owner"),
        ("unban", "owner"),
    ]
