"""Python RQ (Debian's 1.13) driver for the interop tests.

Usage: python3 rqhelper.py <redis url>   with a JSON list of commands on
stdin; prints a JSON list with one reply per command. Each command is an
object with an "op" key:

  enqueue   queue, func, args?, kwargs?, job_id?, meta?, description?,
            result_ttl?, failure_ttl?, ttl?, job_timeout?,
            retry? {max, interval}, depends_on? [ids],
            dependency? {jobs, allow_failure?, enqueue_at_front?} (a Dependency),
            enqueue_in? (seconds)
            -> {id, status}
  fetch     id -> the job as Python RQ reads it (see job_view)
  registries queue -> ids per registry, scores of the scheduled one
  workers   -> every worker as Worker.all() reads it
  requeue   queue, id -> FailedJobRegistry.requeue(id): {id, status}
  raw       id -> the job hash as Python's redis-py reads it (base64 values)

Every job is read and written with rq.serializers.JSONSerializer.
"""
import base64
import json
import sys
import warnings
from datetime import timedelta

from redis import Redis
from rq import Queue, Retry, Worker
from rq.job import Dependency, Job
from rq.registry import (DeferredJobRegistry, FailedJobRegistry, FinishedJobRegistry,
                         ScheduledJobRegistry, StartedJobRegistry)
from rq.serializers import JSONSerializer

warnings.simplefilter('ignore')  # job.exc_info / job.result are deprecated in 1.13


def iso(dt):
    return dt.isoformat() if dt else None


def enqueue(conn, c):
    q = Queue(c['queue'], connection=conn, serializer=JSONSerializer)
    opts = {}
    for k in ('job_id', 'meta', 'description', 'result_ttl', 'failure_ttl', 'ttl', 'job_timeout'):
        if k in c:
            opts[k] = c[k]
    if 'retry' in c:
        opts['retry'] = Retry(max=c['retry']['max'], interval=c['retry'].get('interval', 0))
    if 'depends_on' in c:
        opts['depends_on'] = c['depends_on']
    if 'dependency' in c:
        d = c['dependency']
        opts['depends_on'] = Dependency(jobs=d['jobs'], allow_failure=d.get('allow_failure', False),
                                        enqueue_at_front=d.get('enqueue_at_front', False))
    args = c.get('args', [])
    kwargs = c.get('kwargs', {})
    if 'enqueue_in' in c:
        job = q.enqueue_in(timedelta(seconds=c['enqueue_in']), c['func'], *args, **kwargs, **opts)
    else:
        job = q.enqueue(c['func'], *args, **kwargs, **opts)
    return {'id': job.id, 'status': job.get_status()}


def result_view(r):
    if r is None:
        return None
    return {
        'id': r.id,
        'type': r.type.value,
        'type_name': r.type.name,
        'return_value': r.return_value,
        'exc_string': r.exc_string,
        'created_at': iso(r.created_at),
    }


def job_view(conn, c):
    job = Job.fetch(c['id'], connection=conn, serializer=JSONSerializer)
    latest = job.latest_result()
    return {
        'id': job.id,
        'status': job.get_status(),
        'func_name': job.func_name,
        'args': list(job.args),
        'kwargs': job.kwargs,
        'meta': job.get_meta(),
        'origin': job.origin,
        'description': job.description,
        'timeout': job.timeout,
        'result_ttl': job.result_ttl,
        'failure_ttl': job.failure_ttl,
        'retries_left': job.retries_left,
        'retry_intervals': job.retry_intervals,
        'dependency_ids': job._dependency_ids,
        'worker_name': job.worker_name,
        'created_at': iso(job.created_at),
        'enqueued_at': iso(job.enqueued_at),
        'started_at': iso(job.started_at),
        'ended_at': iso(job.ended_at),
        'last_heartbeat': iso(job.last_heartbeat),
        'result': job.result,
        'return_value': job.return_value(),
        'exc_info': job.exc_info,
        'latest_result': result_view(latest),
        'results': [result_view(r) for r in job.results()],
        'is_finished': job.is_finished,
        'is_failed': job.is_failed,
    }


def registries(conn, c):
    name = c['queue']
    q = Queue(name, connection=conn, serializer=JSONSerializer)
    sched = ScheduledJobRegistry(name, connection=conn, serializer=JSONSerializer)
    sched_ids = sched.get_job_ids()
    return {
        'queued': q.get_job_ids(),
        'count': q.count,
        'started': StartedJobRegistry(name, connection=conn, serializer=JSONSerializer).get_job_ids(),
        'finished': FinishedJobRegistry(name, connection=conn, serializer=JSONSerializer).get_job_ids(),
        'failed': FailedJobRegistry(name, connection=conn, serializer=JSONSerializer).get_job_ids(),
        'deferred': DeferredJobRegistry(name, connection=conn, serializer=JSONSerializer).get_job_ids(),
        'scheduled': sched_ids,
        'scheduled_at': {i: sched.get_scheduled_time(i).timestamp() for i in sched_ids},
    }


def workers(conn, c):
    out = []
    for w in Worker.all(connection=conn, serializer=JSONSerializer):
        out.append({
            'name': w.name,
            'state': w.get_state(),
            'queues': w.queue_names(),
            'current_job_id': w.get_current_job_id(),
            'pid': w.pid,
            'hostname': w.hostname,
            'ip_address': w.ip_address,
            'birth': iso(w.birth_date),
            'last_heartbeat': iso(w.last_heartbeat),
            'successful_job_count': w.successful_job_count,
            'failed_job_count': w.failed_job_count,
            'total_working_time': w.total_working_time,
        })
    return out


def requeue(conn, c):
    registry = FailedJobRegistry(c['queue'], connection=conn, serializer=JSONSerializer)
    job = registry.requeue(c['id'])
    return {'id': job.id, 'status': job.get_status()}


def raw(conn, c):
    h = conn.hgetall('rq:job:' + c['id'])
    return {k.decode(): base64.b64encode(v).decode() for k, v in h.items()}


OPS = {'enqueue': enqueue, 'fetch': job_view, 'registries': registries, 'workers': workers, 'raw': raw,
       'requeue': requeue}


def main():
    conn = Redis.from_url(sys.argv[1])
    cmds = json.load(sys.stdin)
    out = []
    for c in cmds:
        out.append(OPS[c['op']](conn, c))
    json.dump(out, sys.stdout)


if __name__ == '__main__':
    main()
