"""The morning digest: each manager's calls for the day and the overdue ones, by email, once a day.

A digest goes through the shop's email channel (an SMTP channel: docs/email.md) as a
transactional message: no unsubscribe link, no tracking. It is sent at most once per manager
and day, like an outbox row: claimed (``task_digests``, status ``sending``) before it is sent,
then ``sent`` or ``failed`` with the server's answer; a transient failure gives the claim back,
so a later run tries again; a connection dropped after the message went out leaves it
``unknown``, never sent twice. A manager with nothing due gets no email (``empty``).
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

from markupsafe import Markup

from retainly.messaging.channels import FAILED, RETRY, SENT, Delivery, one_line
from retainly.store.backends import Store
from retainly.features.model_summary import end_of
from retainly.tasks.work import queue

PLAYBOOK = "tasks-digest"  # what the message's X-Retainly-Key starts with


def digest_text(name: str | None, day: date, tasks: list[dict], public_url: str) -> tuple[str, str, str]:
    """(subject, plain text, HTML content) of a manager's digest."""
    overdue = sum(t["queue"] == "overdue" for t in tasks)
    today = len(tasks) - overdue
    subject = f"Your calls for {day:%Y-%m-%d}: {today} due today" + (f", {overdue} overdue" if overdue else "")
    link = public_url.rstrip("/") + "/tasks/"
    lines = [f"Hello {name or 'there'},", "", subject + ".", ""]
    rows = []
    for task in tasks:
        who = task["name"] or task["customer"]
        when = "overdue since" if task["queue"] == "overdue" else "due"
        due = f"{task['due_at']:%Y-%m-%d %H:%M}"
        lines += [f"- [{task['priority']}] {who} ({task['phone'] or 'no phone'}), {when} {due}",
                  f"  {task['reason']}", f"  {link}{task['task_id']}"]
        rows.append(Markup(
            '<tr><td style="padding:6px 8px;border-top:1px solid #e5e5e5;">{priority}</td>'
            '<td style="padding:6px 8px;border-top:1px solid #e5e5e5;"><a href="{href}">{who}</a><br>{phone}</td>'
            '<td style="padding:6px 8px;border-top:1px solid #e5e5e5;">{when} {due}</td>'
            '<td style="padding:6px 8px;border-top:1px solid #e5e5e5;">{reason}</td></tr>').format(
                priority=task["priority"], href=f"{link}{task['task_id']}", who=who, phone=task["phone"] or "no phone",
                when=when, due=due, reason=task["reason"]))
    html = (Markup("<p>Hello {}, {}.</p>").format(name or "there", subject)
            + Markup('<table role="presentation" cellpadding="0" cellspacing="0" style="width:100%;">')
            + Markup("").join(rows) + Markup("</table>"))
    return subject, "\n".join(lines), str(html)


def send_digests(store: Store, channel, public_url: str, now: datetime) -> Counter:
    """Each manager's digest for the day of ``now``, through ``channel`` (an SmtpChannel), once;
    how many were sent, failed, empty, already done, or left for a later run."""
    day = now.date()
    counts: Counter = Counter()
    managers = store.fetchall("SELECT user_id, email, name FROM users WHERE role = 'manager' AND disabled_at IS NULL "
                              "ORDER BY user_id")
    for user_id, email, name in managers:
        tasks = [t for t in queue(store, now, owner_id=int(user_id)) if t["due_at"] < end_of(day)]
        with store.transaction():
            claimed = store.changed("INSERT INTO task_digests (user_id, day, status, tasks) VALUES (?, ?, ?, ?) "
                                    "ON CONFLICT (user_id, day) DO NOTHING",
                                    (user_id, day, "sending" if tasks else "empty", len(tasks)))
        if not claimed:
            counts["already"] += 1
            continue
        if not tasks:
            counts["empty"] += 1
            continue
        subject, text, html = digest_text(name, day, tasks, public_url)
        delivery = Delivery(f"{PLAYBOOK}/{user_id}/{day}", PLAYBOOK, 0, 0, "email",
                            {"email": email, "name": name, "subject": subject, "text": text, "html": html,
                             "marketing": False}, 0)
        status, detail = _send(channel, delivery)
        with store.transaction():
            if status == RETRY:  # not sent: give the claim back for a later run
                store.execute("DELETE FROM task_digests WHERE user_id = ? AND day = ?", (user_id, day))
            else:
                store.execute("UPDATE task_digests SET status = ?, sent_at = ?, detail = ? WHERE user_id = ? "
                              "AND day = ?", (status, now if status == SENT else None, detail, user_id, day))
        counts[status] += 1
    return counts


def _send(channel, delivery: Delivery) -> tuple[str, str]:
    from retainly.messaging.smtp_channel import OutcomeUnknown

    try:
        # As a test send: an internal message carries no open pixel and reports no bounce of a customer.
        outcome = channel.deliver(delivery, test=True)
    except OutcomeUnknown as exc:
        return "unknown", one_line(str(exc))
    return (outcome.status if outcome.status in (SENT, FAILED, RETRY) else FAILED), outcome.detail
