"""sao's bus on SQLite too: the pop-ups of alerts and reminders.

trytond's bus carries the messages of a transaction (a notification, a
pop-up) to the web processes through PostgreSQL's LISTEN/NOTIFY, which
SQLite has not: there crmkit.sqlite_bus carries them through a table, so
the scheduler and the queue worker, other processes, reach sao's pop-ups
as on PostgreSQL.  On both, a user listens to their own notifications
only (trytond let anyone signed in listen to another user's).  crm-kit
sets Bus as [bus] class (TRYTOND_BUS__CLASS) for every process it starts.

trytond.bus resolves its class while it is imported: this module imports
it only when called, so that it may be imported first."""


def own_channels(channels):
    """channels without another user's notifications: trytond's route lets
    a user listen to any channel but the "user:…" ones (it adds the user's
    own), and res.notification publishes a user's on "notification:<id>"."""
    users = {c.split(':', 1)[1] for c in channels if c.startswith('user:')}
    return {c for c in channels
        if not c.startswith('notification:') or c.split(':', 1)[1] in users}


class Bus:
    "The [bus] class of crm-kit's processes"

    @classmethod
    def subscribe(cls, database, channels, last_message=None):
        from .sqlite_bus import SQLiteBus
        return SQLiteBus.subscribe(
            database, own_channels(channels), last_message)

    @classmethod
    def publish(cls, channel, message):
        from .sqlite_bus import SQLiteBus
        return SQLiteBus.publish(channel, message)


def carried():
    """Whether the configured bus carries messages on the database backend
    (trytond's alone does on PostgreSQL only)"""
    from trytond import backend, bus
    return backend.name == 'postgresql' or (
        backend.name == 'sqlite' and bus.Bus is Bus)
