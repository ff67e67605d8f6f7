"""Run calls in worker processes with a per-call timeout: a call that hangs or crashes its process
costs that call only (the worker is killed and replaced), never the batch."""

import multiprocessing
import time
from multiprocessing.connection import wait


STARTUP_TIMEOUT = 300.0  # seconds a new worker may take to import its modules


def _serve(function, connection):
    """Worker loop: say it is ready, then call ``function(*arguments)`` for each arguments tuple
    received and send back ``(ok, value)``."""
    connection.send(None)
    while True:
        arguments = connection.recv()
        try:
            connection.send((True, function(*arguments)))
        except Exception as error:  # reported to the parent as this call's failure
            connection.send((False, f"{type(error).__name__}: {error}"))


class _Worker:
    """A process serving one call at a time; its deadline runs from when the call reaches it."""

    def __init__(self, context, function):
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(function, child), daemon=True)
        self.process.start()
        child.close()
        self.ready = False
        self.job = self.arguments = None
        self.deadline = time.monotonic() + STARTUP_TIMEOUT

    def submit(self, job, arguments, timeout):
        self.job, self.arguments, self.timeout = job, arguments, timeout
        if self.ready:
            self.connection.send(arguments)
            self.deadline = time.monotonic() + timeout

    def receive(self):
        """The call's outcome, or None when the message was the worker saying it is ready."""
        message = self.connection.recv()
        if message is None:
            self.ready = True
            self.submit(self.job, self.arguments, self.timeout)
        return message

    def stop(self):
        self.process.kill()
        self.process.join()
        self.connection.close()


def run_isolated(function, jobs, workers=1, timeout=60.0):
    """Call ``function(*arguments)`` for each ``(job, arguments)`` of ``jobs`` in ``workers`` processes.

    Yields ``(job, ok, value)`` as calls finish: the return value, or a reason (the exception, a
    timeout, a dead worker) when ``ok`` is False. ``function`` must be importable (module level);
    ``timeout`` counts from when a call reaches its worker, not the worker's start-up.
    """
    context = multiprocessing.get_context("spawn")  # a clean interpreter: no inherited threads or locks
    pending = list(jobs)[::-1]
    idle, busy = [], []
    try:
        while pending or busy:
            while pending and len(busy) < workers:
                worker = idle.pop() if idle else _Worker(context, function)
                worker.submit(*pending.pop(), timeout)
                busy.append(worker)
            ready = wait(
                [worker.connection for worker in busy],
                timeout=max(0.0, min(worker.deadline for worker in busy) - time.monotonic()),
            )
            for worker in list(busy):
                if worker.connection in ready:
                    try:
                        if (outcome := worker.receive()) is None:
                            continue
                        idle.append(worker)
                    except (EOFError, OSError):
                        worker.stop()
                        outcome = (False, f"worker process died (exit code {worker.process.exitcode})")
                elif time.monotonic() >= worker.deadline:
                    worker.stop()
                    outcome = (False, f"timed out after {timeout:g} s" if worker.ready else "worker did not start")
                else:
                    continue
                busy.remove(worker)
                yield worker.job, *outcome
    finally:
        for worker in idle + busy:
            worker.stop()
