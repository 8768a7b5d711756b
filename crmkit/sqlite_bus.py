"""The bus of crm-kit's processes on SQLite (see crmkit.bus): a published
message is a row of crm_kit_bus_message, written in the publishing
transaction, so it is sent when it is committed, as PostgreSQL's NOTIFY
is; each web process' listener reads the new rows every POLL_INTERVAL
seconds.  On PostgreSQL it is trytond's."""
import json
import logging
import os
import sqlite3
import threading
import time
import uuid

import trytond.config as config
from trytond import backend
from trytond.bus import LongPollingBus, _MessageQueue
from trytond.protocols.jsonrpc import JSONDecoder, JSONEncoder
from trytond.transaction import Transaction

logger = logging.getLogger(__name__)

TABLE = 'crm_kit_bus_message'
CREATE = (f'CREATE TABLE IF NOT EXISTS "{TABLE}" ('
    'id INTEGER PRIMARY KEY AUTOINCREMENT, '
    'created REAL NOT NULL, '
    'payload TEXT NOT NULL)')
# Seconds between two reads of the new messages: a pop-up shows at most
# this late; a read of an indexed table costs nothing meanwhile.
POLL_INTERVAL = 0.5


class SQLiteBus(LongPollingBus):
    "trytond's bus, through a table on SQLite"

    @classmethod
    def publish(cls, channel, message):
        if backend.name != 'sqlite':
            return super().publish(channel, message)
        message['message_id'] = str(uuid.uuid4())
        payload = json.dumps({
                'channel': channel,
                'message': message,
                }, cls=JSONEncoder, separators=(',', ':'))
        cursor = Transaction().connection.cursor()
        cursor.execute(CREATE)
        now = time.time()
        cursor.execute(f'INSERT INTO "{TABLE}" (created, payload) '
            'VALUES (?, ?)', (now, payload))
        # What no listener may still send (sao asks again with the last
        # message it got, within the cache timeout).
        cursor.execute(f'DELETE FROM "{TABLE}" WHERE created < ?',
            (now - config.getint('bus', 'cache_timeout'),))

    @classmethod
    def _listen(cls, database):
        if backend.name != 'sqlite':
            return super()._listen(database)
        logger.info("start listener for '%s'", database)
        pid = os.getpid()
        # A connection of its own, to the file trytond's would open.
        connection = sqlite3.connect(backend.Database(database)._make_uri(),
            uri=True, timeout=30, isolation_level=None)
        try:
            connection.execute('PRAGMA journal_mode = WAL')
            connection.execute(CREATE)
            cls._messages[database] = messages = _MessageQueue(
                config.getint('bus', 'cache_timeout'))
            # As PostgreSQL's listener, from the messages to come.
            last, = connection.execute(
                f'SELECT COALESCE(MAX(id), 0) FROM "{TABLE}"').fetchone()
            now = time.time()
            while cls._queues[pid, database]['timeout'] > now:
                rows = connection.execute(
                    f'SELECT id, payload FROM "{TABLE}" '
                    'WHERE id > ? ORDER BY id', (last,)).fetchall()
                for last, payload in rows:
                    payload = json.loads(payload, object_hook=JSONDecoder())
                    channel = payload['channel']
                    messages.append(channel, payload['message'])
                    with cls._queues_lock[pid]:
                        events = cls._queues[pid, database][
                            'events'][channel].copy()
                        cls._queues[pid, database]['events'][
                            channel].clear()
                    for event in events:
                        event.set()
                time.sleep(POLL_INTERVAL)
                now = time.time()
        except Exception:
            logger.exception("bus listener on '%s' crashed", database)
            with cls._queues_lock[pid]:
                del cls._queues[pid, database]
            raise
        finally:
            connection.close()

        with cls._queues_lock[pid]:
            if cls._queues[pid, database]['timeout'] <= now:
                del cls._queues[pid, database]
            else:
                # A subscriber came between the end of the loop and here.
                listener = threading.Thread(
                    target=cls._listen, args=(database,), daemon=True)
                cls._queues[pid, database]['listener'] = listener
                listener.start()
