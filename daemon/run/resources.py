"""A resource sample as plain data, and the one event it becomes (pure).

:class:`~daemon.run.sampler.ResourceSampler` takes the samples (psutil); the safety
rules (:mod:`daemon.run.safety`) judge them; the ``performance_metrics`` projection
(:mod:`daemon.projections.metrics`) turns the event into one row per measure.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from daemon.log.events import ResourcesSampled


@dataclass(frozen=True)
class ResourceSample:
    cpu_percent: float  # system-wide, since the previous sample
    memory_percent: float  # system-wide
    disk_percent: float  # of the filesystem holding the workspace
    process_cpu_percent: float  # this process and its children, of one core
    process_rss_mb: float


def sample_event(session_id: str, sample: ResourceSample) -> ResourcesSampled:
    """The sample as one event: five ``performance_metrics`` rows once projected."""
    return ResourcesSampled(
        session_id=session_id,
        cpu=float(sample.cpu_percent),
        mem=float(sample.memory_percent),
        disk=float(sample.disk_percent),
        proc_cpu=float(sample.process_cpu_percent),
        rss_mb=float(sample.process_rss_mb),
    )


#: How far a measure must move from the last sample a continuous session recorded before a
#: new one is news: a quiet daemon's load wanders by a point or two, and recording that
#: every 30 s was most of its log. Chosen well under every limit's usual margin.
RECORD_WHEN_MOVED = ResourceSample(cpu_percent=5.0, memory_percent=1.0, disk_percent=0.5,
                                   process_cpu_percent=10.0, process_rss_mb=4.0)
#: A sample is recorded at least this often whatever it says (ten minutes at the default
#: 30 s interval), so every chart has points and a quiet session shows it was alive.
RECORD_AT_LEAST_EVERY = 20


def is_news(last_recorded: ResourceSample | None, sample: ResourceSample,
            samples_since: int) -> bool:
    """Whether a continuous session appends ``sample``, ``samples_since`` samples after
    the last one it recorded (a deadband, as process historians keep their series)."""
    if last_recorded is None or samples_since >= RECORD_AT_LEAST_EVERY:
        return True
    return any(abs(getattr(sample, f.name) - getattr(last_recorded, f.name))
               >= getattr(RECORD_WHEN_MOVED, f.name) for f in fields(ResourceSample))
