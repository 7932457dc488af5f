// A queue task's attempts, rebuilt from its events: a lease (task.updated carrying the
// worker id) starts attempt n, and the next task.failed / task.completed / release or
// cancellation of that attempt ends it.
import type { FeedEvent } from '$lib/services/types';

export interface Attempt {
	attempt: number;
	worker: string | null;
	started_at: string;
	ended_at: string | null;
	outcome: 'running' | 'completed' | 'failed' | 'released' | 'cancelled';
	error: string | null;
	/** Milliseconds from the lease to the outcome; null while it runs. */
	duration_ms: number | null;
}

const ENDINGS: Record<string, Attempt['outcome']> = {
	'task.completed': 'completed',
	'task.failed': 'failed',
	'task.cancelled': 'cancelled'
};

export function attemptsOf(events: FeedEvent[]): Attempt[] {
	const attempts: Attempt[] = [];
	for (const event of events) {
		const data = (event.data ?? {}) as Record<string, unknown>;
		const current = attempts.at(-1);
		const open = current && current.outcome === 'running' ? current : null;
		if (event.type === 'task.updated' && typeof data.worker_id === 'string') {
			attempts.push({
				attempt: Number(data.attempt ?? attempts.length + 1),
				worker: data.worker_id,
				started_at: event.occurred_at,
				ended_at: null,
				outcome: 'running',
				error: null,
				duration_ms: null
			});
			continue;
		}
		const outcome = ENDINGS[event.type] ?? (event.type === 'task.updated' && data.reason ? 'released' : null);
		if (!open || !outcome) continue;
		open.outcome = outcome;
		open.ended_at = event.occurred_at;
		open.error = typeof data.error === 'string' ? data.error : null;
		open.duration_ms = Date.parse(event.occurred_at) - Date.parse(open.started_at);
	}
	return attempts;
}

export function duration(ms: number | null): string {
	if (ms === null) return '—';
	return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}
