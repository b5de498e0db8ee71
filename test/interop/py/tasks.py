"""Tasks for the Python RQ side of the interop tests.

test/interop/tasks.ts defines the same names with the same behaviour, so a
job gives the same result whichever side runs it. This directory is the
cwd of every `rq worker` the tests start, so `tasks.add` imports from here.
"""
from rq import get_current_job


def add(a, b):
    return a + b


def hello(name='rq'):
    return {'greeting': 'hello %s' % name}


def power(base, exp=2):
    return base ** exp


def boom(message='kaboom'):
    raise ValueError(message)


def echo_meta():
    return get_current_job().meta


def flaky(key, fail_times):
    """Fails while INCR key <= fail_times; returns the attempt number after."""
    n = get_current_job().connection.incr(key)
    if n <= fail_times:
        raise RuntimeError('flaky attempt %d of key %s' % (n, key))
    return n
