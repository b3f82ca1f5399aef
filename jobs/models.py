import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from jobs.exceptions import InvalidJobTransition


class JobStatus(models.TextChoices):
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class JobKind(models.TextChoices):
    """What a job computes; the worker picks the executor by kind (jobs.tasks)."""

    ANALYSIS = "analysis"
    BACKTEST = "backtest"


ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.PROCESSING)
FINISHED_STATUSES = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)

# The lifecycle: every status change is built from this table by AnalysisJobQuerySet.transition(),
# so a new state or edge is one edit here. processing -> queued is the hand-back (a worker shutting
# down, or the reaper re-queuing a job whose worker stopped beating); processing -> processing is
# a new attempt taking over a job whose worker stopped beating.
ALLOWED_TRANSITIONS = {
    JobStatus.QUEUED: {JobStatus.PROCESSING, JobStatus.FAILED, JobStatus.CANCELLED},
    JobStatus.PROCESSING: {
        JobStatus.QUEUED,
        JobStatus.PROCESSING,
        JobStatus.COMPLETED,
        JobStatus.FAILED,
        JobStatus.CANCELLED,
    },
    JobStatus.COMPLETED: set(),
    JobStatus.FAILED: set(),
    JobStatus.CANCELLED: set(),
}


def statuses_reaching(target: str) -> list[str]:
    """The statuses from which the lifecycle allows a change to `target`."""
    sources = [str(source) for source, targets in ALLOWED_TRANSITIONS.items() if target in targets]
    if not sources:
        raise InvalidJobTransition(f"No status may change to {target}")
    return sources


def stale_before(*, now: datetime | None = None) -> datetime:
    """The instant before which a job's last sign of life means its worker is gone."""
    return (now or timezone.now()) - timedelta(seconds=settings.THETOOL_JOB_STALE_SECONDS)


def heartbeat_interval() -> float:
    """Seconds between two beats of a running job (THETOOL_JOB_HEARTBEAT_SECONDS; 0: stale / 4)."""
    return settings.THETOOL_JOB_HEARTBEAT_SECONDS or settings.THETOOL_JOB_STALE_SECONDS / 4


class AnalysisJobQuerySet(models.QuerySet):
    def finished(self):
        """Jobs that ended (completed, failed or cancelled): their results are no longer being written."""
        return self.filter(status__in=FINISHED_STATUSES)

    def transition(self, *, to: str, **fields) -> int:
        """Change the status of these jobs to `to`, only from a status the lifecycle allows.

        One conditional UPDATE (callers add their own fences, such as the attempt number, with
        filter()); returns how many rows changed, so 0 means "someone else got there first".
        """
        return self.filter(status__in=statuses_reaching(to)).update(status=to, **fields)

    def stale(self, *, now: datetime | None = None) -> "AnalysisJobQuerySet":
        """Active jobs with no sign of life for THETOOL_JOB_STALE_SECONDS (see AnalysisJob.is_stale)."""
        last_sign_of_life = Coalesce("heartbeat_at", "enqueued_at", "created_at")
        return (
            self.filter(status__in=ACTIVE_STATUSES)
            .alias(last_sign_of_life=last_sign_of_life)
            .filter(last_sign_of_life__lt=stale_before(now=now))
        )


class AnalysisJob(models.Model):
    """One request to analyse a set of symbols with one strategy and one set of trade parameters.

    `analysis_key` is a digest of everything that changes the result (normalised symbol set,
    strategy, capital, risk settings, data source). At most one job per key is active.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    analysis_key = models.CharField(max_length=64, db_index=True)
    # Part of the analysis key for every kind but "analysis" (whose keys predate kinds).
    kind = models.CharField(max_length=12, choices=JobKind.choices, default=JobKind.ANALYSIS, db_index=True)
    parameters = models.JSONField(default=dict, blank=True, help_text="Kind-specific request parameters")
    status = models.CharField(max_length=12, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True)
    status_reason = models.TextField(blank=True, help_text="Why the job failed, was cancelled or was retired")

    symbols = models.JSONField(help_text="Normalised Yahoo symbols, sorted")
    total = models.PositiveIntegerField()
    strategy_id = models.PositiveSmallIntegerField(default=1)
    capital = models.DecimalField(max_digits=16, decimal_places=2)
    risk_percent = models.DecimalField(max_digits=5, decimal_places=2)
    max_position_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    data_source = models.CharField(max_length=200)
    is_all_stocks = models.BooleanField(default=False, help_text="Requested as 'every active stock'")

    completed = models.PositiveIntegerField(default=0)
    successful = models.PositiveIntegerField(default=0)

    attempt = models.PositiveIntegerField(default=0, help_text="Incremented by every worker that claims the job")
    enqueued = models.BooleanField(default=False, help_text="Handed to the django-q2 broker")
    enqueued_at = models.DateTimeField(null=True, blank=True, help_text="Last hand-over to the broker")
    task_id = models.CharField(max_length=64, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    duplicate_count = models.PositiveIntegerField(default=0)
    last_duplicate_at = models.DateTimeField(null=True, blank=True)
    superseded_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="supersedes"
    )
    requested_by = models.CharField(max_length=150, blank=True, help_text="Channel and requester, e.g. api:alice")
    # The account that asked for the job: only it (or staff) may cancel or force-supersede it.
    # Null for open-access anonymous requests (requested_by then says api:<address>).
    requested_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="analysis_jobs"
    )

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AnalysisJobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        # The admin actions, each granted on its own (jobs are otherwise read-only in the admin).
        permissions = [
            ("cancel_analysisjob", "Can cancel analysis jobs"),
            ("recover_analysisjob", "Can recover stale analysis jobs"),
            ("rerun_analysisjob", "Can re-run analysis jobs"),
        ]
        constraints = [
            # Deduplication: at most one queued/processing job per analysis. This, not a
            # read-then-write check, is what holds across processes and hosts.
            models.UniqueConstraint(
                fields=["analysis_key"],
                condition=Q(status__in=["queued", "processing"]),
                name="job_one_active_per_analysis",
            ),
            # Progress never exceeds the work.
            models.CheckConstraint(
                condition=Q(completed__lte=models.F("total")) & Q(successful__lte=models.F("completed")),
                name="job_progress_within_total",
            ),
        ]

    def __str__(self):
        return f"Job {self.id} ({self.status}, {self.completed}/{self.total})"

    @property
    def job_id(self) -> str:
        return str(self.id)

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def last_sign_of_life(self) -> datetime:
        """The worker's heartbeat; before any, the last hand-over to the broker; else creation."""
        return self.heartbeat_at or self.enqueued_at or self.created_at

    @property
    def is_stale(self) -> bool:
        """Is this job's worker gone? The one definition, also as AnalysisJobQuerySet.stale().

        An active job is stale when its last sign of life is older than THETOOL_JOB_STALE_SECONDS:
        a processing job whose worker stopped beating, or a queued job no worker picked up.
        """
        return self.is_stale_at(now=timezone.now())

    def is_stale_at(self, *, now: datetime) -> bool:
        return self.status in ACTIVE_STATUSES and self.last_sign_of_life < stale_before(now=now)

    @property
    def failed(self) -> int:
        """Symbols analysed without a verdict (listed in the job's errors)."""
        return self.completed - self.successful

    @property
    def fans_out(self) -> bool:
        """An analysis of more than THETOOL_JOB_CHUNK_SIZE symbols is split into chunks (JobChunk) that any
        worker takes; smaller ones, and other kinds, run as one task."""
        return self.kind == JobKind.ANALYSIS and self.total > settings.THETOOL_JOB_CHUNK_SIZE

    @property
    def progress_percent(self) -> int:
        if not self.total:
            return 100 if self.status == JobStatus.COMPLETED else 0
        return int(self.completed * 100 / self.total)


class IdempotencyRecord(models.Model):
    """The first answer to a job request sent with an `Idempotency-Key` header, replayed on retries.

    `scope` is who sent it ("user:<id>", or "address:<ip>" for open-access anonymous clients), so
    two clients never see each other's answers. `response_status` is null while the first request
    is still being decided (a retry then gets 409).
    """

    scope = models.CharField(max_length=100)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body")
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            # One record per key and client: the insert that wins decides, the others replay or wait.
            models.UniqueConstraint(fields=["scope", "key"], name="idempotency_one_record_per_key"),
        ]

    def __str__(self):
        return f"{self.scope} {self.key} ({self.response_status or 'in progress'})"


class WorkerProcess(models.Model):
    """One `manage.py run_worker` process, as its reaper thread last reported it (the worker registry).

    Operators' reads (/readyz, /metrics, the dashboard, `jobs_report`) count live workers and the
    reaper's last run from these rows, so every web process on every host sees the same workers,
    whichever broker carries the jobs. A row is written when the worker starts, at every reaper
    tick and when it stops; a worker that died without stopping simply stops being seen.
    """

    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField(db_index=True)
    last_reap_at = models.DateTimeField(null=True, blank=True, help_text="When its reaper last finished a pass")
    stopped_at = models.DateTimeField(null=True, blank=True)
    processes = models.PositiveSmallIntegerField(default=0, help_text="django-q2 worker processes it runs")

    class Meta:
        constraints = [
            # One row per process run: a pid reused on the same host after a restart is a new row.
            models.UniqueConstraint(fields=["host", "pid", "started_at"], name="worker_process_one_row_per_run"),
        ]

    def __str__(self):
        return f"{self.host}:{self.pid} (started {self.started_at:%Y-%m-%d %H:%M:%S} UTC)"


class ChunkStatus(models.TextChoices):
    QUEUED = "queued"
    PROCESSING = "processing"
    DONE = "done"


def in_batches(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def chunk_symbols(symbols: list, *, size: int, taper: int) -> list[list]:
    """A job's symbols in chunks of `size`, the last `size` of them in `taper` smaller chunks.

    Workers take chunks in order, so the small ones come last: a worker that runs out of chunks waits
    at most one small chunk for the others to end, instead of up to a whole one (the job ends when its
    last chunk does). Each chunk more costs one claim. taper 1: equal chunks.
    """
    if taper <= 1 or len(symbols) <= size:
        return list(in_batches(symbols, size))
    body, tail = symbols[:-size], symbols[-size:]
    return [*in_batches(body, size), *in_batches(tail, -(-size // taper))]


class JobChunkQuerySet(models.QuerySet):
    def create_for(self, job: "AnalysisJob") -> list[int]:
        """Split `job` into its chunks (THETOOL_JOB_CHUNK_SIZE, _TAPER) and return their indexes."""
        parts = chunk_symbols(job.symbols, size=settings.THETOOL_JOB_CHUNK_SIZE, taper=settings.THETOOL_JOB_CHUNK_TAPER)
        self.bulk_create([JobChunk(job_id=job.pk, index=index, symbols=symbols) for index, symbols in enumerate(parts)])
        return list(range(len(parts)))

    def stale(self, *, now: datetime | None = None) -> "JobChunkQuerySet":
        """Unfinished chunks with no sign of life for THETOOL_JOB_STALE_SECONDS (the job's definition).

        A chunk made with its job waits in the queue as long as the job does: until a worker beats for
        it, its clock starts no earlier than the job's start, so a job that waited for a free worker does
        not find its queued chunks stale the moment it starts.
        """
        handed_over = Greatest(Coalesce("enqueued_at", "created_at"), Coalesce("job__started_at", "created_at"))
        last_sign_of_life = Coalesce("heartbeat_at", handed_over)
        return (
            self.exclude(status=ChunkStatus.DONE)
            .alias(last_sign_of_life=last_sign_of_life)
            .filter(last_sign_of_life__lt=stale_before(now=now))
        )


class JobChunk(models.Model):
    """A slice of a large job's symbols that any worker of the cluster may analyse (one task each).

    A job larger than THETOOL_JOB_CHUNK_SIZE is fanned out into chunks; each chunk is claimed,
    fenced (its own attempt number), beaten and recovered like a small job is, and the job's
    status is decided once, by whichever chunk finishes last.
    """

    job = models.ForeignKey(AnalysisJob, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    symbols = models.JSONField()
    status = models.CharField(max_length=12, choices=ChunkStatus.choices, default=ChunkStatus.QUEUED)
    attempt = models.PositiveIntegerField(default=0, help_text="Incremented by every worker that claims the chunk")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=100, blank=True, help_text="host:pid of the last worker to claim it")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = JobChunkQuerySet.as_manager()

    class Meta:
        ordering = ["job", "index"]
        constraints = [
            models.UniqueConstraint(fields=["job", "index"], name="chunk_unique_per_job_index"),
        ]
        indexes = [models.Index(fields=["status", "job"], name="chunk_status_job")]

    def __str__(self):
        return f"Chunk {self.index} of job {self.job_id} ({self.status}, attempt {self.attempt})"
