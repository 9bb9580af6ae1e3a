import type { RunEventType } from '../../ai/live-runs.js';
import type { ActiveRun, PreparedRun, RunOutcome } from './runs.service.js';

/**
 * The run a model turn belongs to, as the turn sees it: known at once, or, for a turn started
 * while its run is being claimed, once the claim commits. Events emitted before then wait and
 * are delivered in order; anything that needs the stored run (a thread to write to) awaits
 * `claimed`.
 */
export interface RunLink {
  runId: string;
  signal: AbortSignal;
  claimed: Promise<ActiveRun>;
  emit(event: RunEventType, data: unknown): void;
}

function linkOf(runId: string, signal: AbortSignal, claimed: Promise<ActiveRun>): RunLink {
  let run: ActiveRun | undefined;
  const waiting: Array<[RunEventType, unknown]> = [];
  claimed.then(
    (claimedRun) => {
      for (const [event, data] of waiting.splice(0)) claimedRun.emit(event, data);
      run = claimedRun;
    },
    () => undefined,
  );
  return {
    runId,
    signal,
    claimed,
    emit: (event, data) => (run ? run.emit(event, data) : waiting.push([event, data])),
  };
}

/** The link of a run that is already claimed. */
export function linkOfRun(run: ActiveRun): RunLink {
  return { runId: run.id, signal: run.signal, claimed: Promise.resolve(run), emit: (event, data) => run.emit(event, data) };
}

/**
 * A run kind whose model turn does not depend on its claim (a prompt, a run in a new thread)
 * may start it while the claim commits, so the model's first token does not wait for the
 * transaction. A claim that fails aborts the turn; a turn not started early starts on execute.
 */
export function startsEarly(runId: string, turn: (link: RunLink) => Promise<RunOutcome>): Pick<PreparedRun, 'startEarly' | 'abandon' | 'execute'> {
  let early: { outcome: Promise<RunOutcome>; controller: AbortController; claim(run: ActiveRun): void; fail(): void } | undefined;
  return {
    startEarly: () => {
      const controller = new AbortController();
      let claim!: (run: ActiveRun) => void;
      let fail!: (error: Error) => void;
      const claimed = new Promise<ActiveRun>((resolve, reject) => ((claim = resolve), (fail = reject)));
      claimed.catch(() => undefined);
      const outcome = turn(linkOf(runId, controller.signal, claimed));
      // A turn whose claim failed ends in that failure, and nobody awaits it.
      outcome.catch(() => undefined);
      early = { outcome, controller, claim, fail: () => fail(new Error('The run was not claimed.')) };
    },
    abandon: () => {
      early?.controller.abort('cancelled');
      early?.fail();
    },
    execute: (run) => {
      if (!early) return turn(linkOfRun(run));
      const { controller } = early;
      // The run's cancels, its clients' departure and shutdown reach the turn already under way.
      if (run.signal.aborted) controller.abort(run.signal.reason);
      else run.signal.addEventListener('abort', () => controller.abort(run.signal.reason), { once: true });
      early.claim(run);
      return early.outcome;
    },
  };
}
