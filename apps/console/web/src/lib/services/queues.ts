// Queues, dead letters and the event feed (task-service).
import { get, post, put } from './http';
import type {
	DeadLetterCount,
	DeadLetterSelection,
	EventPage,
	FeedEvent,
	Queue,
	QueueConfig,
	QueueList,
	QueuedTask
} from './types';

export const listQueues = () => get<QueueList>('/api/v1/queues');
export const getQueue = (name: string) => get<Queue>(`/api/v1/queues/${name}`);
export const putQueueConfig = (name: string, config: QueueConfig) =>
	put<Queue>(`/api/v1/queues/${name}`, config);
export const enqueue = (name: string, body: Record<string, unknown>) =>
	post<QueuedTask>(`/api/v1/queues/${name}/tasks`, body);
/** Retry or delete every dead task of ``queue`` the selection matches, server-side in one
 * transaction; with ``dry_run`` only the count (what a person confirms). */
export const deadLetters = (queue: string, action: 'retry' | 'delete', selection: DeadLetterSelection) =>
	post<DeadLetterCount>(`/api/v1/queues/${queue}/dead/${action}`, selection);

/** Every dead task of ``queue`` (following the Link header), optionally only those whose
 * last error contains ``errorText``. */
export async function allDead(queue: string, errorText = ''): Promise<QueuedTask[]> {
	const out: QueuedTask[] = [];
	let path: string | null = `/api/v1/queues/${queue}/dead?limit=500`;
	while (path) {
		const page: Awaited<ReturnType<typeof get<QueuedTask[]>>> = await get<QueuedTask[]>(path);
		out.push(...page.data);
		path = page.nextLink;
	}
	const needle = errorText.toLowerCase();
	return needle ? out.filter((t) => (t.last_error ?? '').toLowerCase().includes(needle)) : out;
}

/** The events of one task, read from the feed's start (the feed has no task filter). */
export async function taskEvents(taskId: string): Promise<{ events: FeedEvent[]; cursor: string }> {
	const events: FeedEvent[] = [];
	let cursor = '0-0';
	for (;;) {
		const page = (await get<EventPage>('/api/v1/events', { query: { after: cursor, limit: 1000 } })).data;
		events.push(...page.items.filter((e) => e.task_id === taskId));
		cursor = page.next_cursor;
		if (page.items.length < 1000) return { events, cursor };
	}
}
