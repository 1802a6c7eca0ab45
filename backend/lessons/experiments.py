"""Lessons as running experiments: start every run of a lesson, compare them, measure them.

A lesson (`backend.lessons.catalog`) declares its data and one or more runs. Starting it creates
one session per run, all on the same text and all behind one owner link and one view link:
the first run is the main session, the others its children, so the comparison, the
accuracy-vs-gap curves and the sentiment classifiers are all read from the main session.
Each run stops by itself at the lesson's budget (`Lesson.steps`, enforced by the session
layer), and the page opens on the lesson's `opens` run, the one that makes its point.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from backend.config import LIMITS
from backend.errors import InvalidInput, UserError
from backend.lessons import catalog as lessons
from backend.lessons import ends, verdicts
from backend.lessons.ends import gap_query, sentiment_query
from backend.sessions.registry import Session, Sessions, check_model_size, check_task_model
from backend.tasks.registry import spec_for

log = logging.getLogger(__name__)
# How long a verdict waits for one answer (the classifiers of the pairs lesson train on the
# first one); past it the worker is busy and the next poll asks again.
VERDICT_WAIT_S = 300.0


class Experiments:
    """Lesson verbs over a `Sessions` registry."""

    def __init__(self, sessions: Sessions, gaps_every_s: float = 5.0) -> None:
        self.sessions = sessions
        self.gaps_every_s = gaps_every_s  # per session: the views polled share one measurement
        self.measured: dict[str, tuple[float, dict[str, Any]]] = {}  # main id -> (when, result)
        self.measuring: dict[str, threading.Lock] = {}  # one measurement per session at a time
        # main id -> (each run's id and step when judged, the verdict): one judgement per end
        self.judged: dict[str, tuple[tuple, verdicts.Verdict]] = {}
        self.judging: set[str] = set()  # main ids whose end is being read now
        self.guard = threading.Lock()

    def start(self, lesson_id: str, lang: Any = "en") -> dict[str, Any]:
        """Create and start a session per run of the lesson; return the opening run's links."""
        lesson = lessons.get(lesson_id)
        if lang not in lessons.LANGS:
            raise InvalidInput(f"lang must be one of {', '.join(lessons.LANGS)}", field="lang")
        task, _ = lessons.session_source(lesson, lang)
        spec = spec_for(task)
        sources = {  # a run may change the lesson's source (attention on or off, say)
            run.label: spec.parse_source(lessons.session_source(lesson, lang, run)[1])
            for run in lesson.runs
        }
        configs = lesson.configs()
        for label, cfg in configs.items():
            check_task_model(cfg, spec, sources[label])
            check_model_size(cfg, spec.sizes(sources[label]))
        reg, main, runs, opening = self.sessions, None, [], None
        reg.check_room(len(configs))  # all runs or none: never a lesson cut short at the cap
        for label, cfg in configs.items():
            meta = {"id": lesson.id, "lang": lang, "run": label, "steps": lesson.steps}
            if lesson.pace:  # the worker holds each run to it (`Open.pace`)
                meta["pace"] = lesson.pace
            extra: dict[str, Any] = {"classroom": {"lesson": meta}}
            if main is not None:
                extra["parent_id"] = main["id"]
            record, links = reg.new_record(
                cfg,
                spec.name,
                sources[label],
                owner_token=main["owner_token"] if main else None,
                view_token=main["view_token"] if main else None,
                **extra,
            )
            main = main or links
            if label == lesson.opening:
                opening = links
            runs.append({"label": label, "id": record.id})
            with reg.lock:
                reg.start(reg.open_record(record))
        return {**(opening or main), "main": main["id"], "runs": runs}

    def runs(self, session: Session) -> list[dict[str, Any]]:
        """The session and its children side by side: the comparison table's rows."""
        return [row(s) for s in self._family(session)]

    def _family(self, session: Session) -> list[Session]:
        """A lesson's main run and its other runs (asked from any of them), or a session
        and its forks."""
        if session.record.parent_id and session.record.classroom.get("lesson"):
            session = self.sessions.get(session.record.parent_id)
        children = self.sessions.storage.children(session.id)
        return [session] + [self.sessions.get(child) for child in children]

    def gaps(self, session: Session) -> dict[str, Any]:
        """Each run's accuracy against the gap: one fresh measurement per session and period.

        However many watchers poll, a lesson's workers measure at most once every
        `gaps_every_s` seconds; the others get that measurement.
        """
        lesson = self._lesson(session)
        if lesson.data.task in (None, "sentiment"):
            raise InvalidInput("this lesson has no long-range task to measure")
        family = self._family(session)
        key = family[0].id
        with self.guard:
            lock = self.measuring.setdefault(key, threading.Lock())
        with lock:
            when, result = self.measured.get(key, (-float("inf"), {}))
            if time.monotonic() - when < self.gaps_every_s:
                return result
            result = self._measure_gaps(lesson, family)
            self.measured[key] = (time.monotonic(), result)
            return result

    def _measure_gaps(self, lesson: lessons.Lesson, family: list[Session]) -> dict[str, Any]:
        task = gap_query(lesson)  # the very query a gap lesson's verdict asks
        out = []
        for run in family:
            answer = self.sessions.ask(run, "gaps", **task)
            out.append(
                {
                    "id": run.id,
                    "label": label(run),
                    "step": run.step,
                    "accuracy": answer["accuracy"],
                }
            )
        return {"gaps": task["gaps"], "chance": answer["chance"], "runs": out}

    def verdict(self, session: Session) -> dict[str, Any] | None:
        """Whether the lesson's claim held, once every run has stopped at its budget; else None.

        It is judged once per end, on what each run ended on (`ends.verdict`), on a thread of
        its own: the asking poll returns at once and a later one reads the verdict. A worker
        too busy to answer is asked again on the next poll; a run that ran on and stopped
        again is judged again.
        """
        meta = session.record.classroom.get("lesson") or {}
        if meta.get("id") not in verdicts.JUDGES.keys() | verdicts.task_judges().keys():
            return None
        family = [run for run in self._family(session) if run.record.classroom.get("lesson")]
        if not all(run.status == "paused" and run.pause_reason == "budget" for run in family):
            return None
        key = tuple((run.id, run.step) for run in family)
        main = family[0].id
        with self.guard:
            judged = self.judged.get(main)
            if judged is not None and judged[0] == key:
                return judged[1].to_dict()
            if main in self.judging:
                return None
            self.judging.add(main)
        lesson = lessons.get(meta["id"])
        threading.Thread(
            target=self._judge, args=(lesson, family, key), name="verdict", daemon=True
        ).start()
        return None

    def _judge(self, lesson: lessons.Lesson, family: list[Session], key: tuple) -> None:
        """Read every run's end, judge the claim on it and keep the verdict for this end."""
        main = family[0].id
        try:
            started = time.monotonic()
            readings = [self._reading(run) for run in family]
            judged = ends.verdict(lesson, readings, family[0].record.source.get("text", ""))
            log.info("lesson %s judged in %.1f s", lesson.id, time.monotonic() - started)
            with self.guard:
                self.judged[main] = (key, judged)
        except UserError:
            pass  # a worker too busy to answer, or restarting: the next poll asks again
        except Exception:  # noqa: BLE001 - a verdict that fails must not take the page down
            log.exception("lesson %s could not be judged", lesson.id)
        finally:
            with self.guard:
                self.judging.discard(main)

    def _reading(self, run: Session) -> ends.Reading:
        """What `run` ended its budget on, and a way to ask its worker (`ends.Reading`)."""
        history = run.history
        scores = [s for s in history.score if s is not None]
        return ends.Reading(
            label=label(run),
            val=ends.last(history.val),
            start=ends.first_loss(history.train, history.val),
            params=run.params,
            score=scores[-1] if scores else None,
            ask=lambda op, fields: self.sessions.ask(run, op, timeout=VERDICT_WAIT_S, **fields),
        )

    def sentiment(self, session: Session, text: Any) -> dict[str, Any]:
        """Running P(positive) of one classifier per run for `text` (trained on first use)."""
        lesson = self._lesson(session)
        if lesson.data.task != "sentiment":
            raise InvalidInput("this lesson has no sentiment classifiers")
        if not isinstance(text, str) or not 1 <= len(text) <= LIMITS.max_inspect_chars:
            raise InvalidInput(
                f"text must be 1 to {LIMITS.max_inspect_chars} characters", field="text"
            )
        main = self._family(session)[0]  # the classifiers live beside the main run
        return self.sessions.ask(main, "sentiment", timeout=300.0, **sentiment_query(lesson, text))

    def _lesson(self, session: Session) -> lessons.Lesson:
        meta = session.record.classroom.get("lesson")
        if not meta:
            raise InvalidInput("this session was not started from a lesson")
        return lessons.get(meta["id"])


def label(session: Session) -> str:
    """A run's name: its lesson label, or its model kind."""
    meta = session.record.classroom.get("lesson") or {}
    return meta.get("run") or session.config.model


def row(session: Session) -> dict[str, Any]:
    """One line of the comparison table."""
    history = session.history
    return {
        "id": session.id,
        "label": label(session),
        "config": session.config.to_dict(),
        "status": session.status,
        "pause_reason": session.pause_reason,
        "step": session.step,
        "budget": (session.record.classroom.get("lesson") or {}).get("steps"),
        "params": session.params,
        "items_per_sec": session.items_per_sec,
        "chars_per_sec": session.items_per_sec,  # the name before tasks, kept for older pages
        "val_step": history.val_step[-200:],
        "val": history.val[-200:],
        "best_val": min((v for v in history.val if v is not None), default=None),
        "gradients": top_gradients(session.gradients),
    }


def top_gradients(profile: dict[str, Any] | None) -> dict[str, Any] | None:
    """The latest ||dL/dh_t|| (and an LSTM's ||dL/dc_t||) of a run's top layer, for one chart."""
    if not profile:
        return None
    c = profile["c_norms"][-1] if profile.get("c_norms") else None
    return {
        "step": profile["step"],
        "seq_len": profile["seq_len"],
        "h": profile["h_norms"][-1],
        "c": c,
    }
