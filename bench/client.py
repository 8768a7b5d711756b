"""Call the ORM the way sao's RPC calls reach it.

``Client(database, user_id).call(model, method, *args)`` does what
trytond's dispatcher does for a JSON-RPC request (protocols/dispatcher.py):
one transaction per call, started for the user, readonly when the method's
RPC says so, the arguments and context converted by the method's ``RPC``
(which removes the private keys and sets ``_check_access``, so access
rights and record rules apply as in sao) and the result converted as it
would be sent back.  Only the HTTP, session and JSON layers are left out.

``client.context`` is the context sao sends: the user's preferences
(``res.user.get_preferences(True)``)."""
import logging
import time
from contextlib import contextmanager


class Client:

    def __init__(self, database, user_id, login=None):
        from trytond.pool import Pool
        self.database = database
        self.user_id = user_id
        self.login = login or str(user_id)
        self.pool = Pool(database)
        self.pool.init()
        self._context = None

    @property
    def context(self):
        if self._context is None:
            self._context = self.call(
                'res.user', 'get_preferences', True, context={})
        return self._context

    def call(self, model, method, *args, context=None):
        "Call method of model as sao does; return the RPC result"
        from trytond.transaction import Transaction
        if context is None:
            context = self.context
        pool = self.pool
        obj = pool.get(model)
        rpc = obj.__rpc__[method]
        with Transaction().start(
                self.database, self.user_id,
                readonly=rpc.readonly, timeout=rpc.timeout) as transaction:
            c_args, c_kwargs, transaction.context, transaction.timestamp = (
                rpc.convert(obj, *args, context))
            meth = rpc.decorate(getattr(obj, method))
            result = rpc.result(meth(*c_args, **c_kwargs))
            transaction.commit()
        return result

    def timed(self, model, method, *args, context=None):
        "Return (result, seconds) of call"
        start = time.perf_counter()
        result = self.call(model, method, *args, context=context)
        return result, time.perf_counter() - start


class _Collector(logging.Handler):

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.queries = []

    def emit(self, record):
        self.queries.append(record.getMessage())


@contextmanager
def capture_sql():
    """Collect the SQL trytond sends while the block runs (its
    LoggingCursor logs every query when the logger is at DEBUG)"""
    logger = logging.getLogger('trytond.backend.postgresql.database')
    collector = _Collector()
    level, propagate = logger.level, logger.propagate
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(collector)
    try:
        yield collector.queries
    finally:
        logger.removeHandler(collector)
        logger.setLevel(level)
        logger.propagate = propagate
