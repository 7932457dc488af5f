// Live updates: ONE long-poll loop on the event feed per tab, shared by every page that
// listens; paused while the tab is hidden. Users who may not read the feed get a plain
// refresh tick at the chosen interval instead.
import { ApiError, get } from '$lib/services/http';
import type { EventPage, FeedEvent } from '$lib/services/types';

type Listener = (events: FeedEvent[]) => void;

const START = '0-0';
const WAIT_S = 20;

export const live = $state({
	running: false,
	expired: false,
	error: '',
	cursor: START,
	refreshSeconds: 10,
	canReadFeed: true
});

const listeners = new Set<Listener>();
let loop: Promise<void> | null = null;
let abort: AbortController | null = null;

/** Read the feed up to its end without delivering: live tails start at "now". */
export async function catchUp(from = START): Promise<string> {
	let cursor = from;
	for (;;) {
		const page = (await get<EventPage>('/api/v1/events', { query: { after: cursor, limit: 1000 } }))
			.data;
		cursor = page.next_cursor;
		if (page.items.length < 1000) return cursor;
	}
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
	return new Promise((resolve) => {
		const timer = setTimeout(resolve, ms);
		signal.addEventListener('abort', () => {
			clearTimeout(timer);
			resolve();
		});
	});
}

async function run(signal: AbortSignal): Promise<void> {
	if (live.cursor === START && live.canReadFeed) {
		try {
			live.cursor = await catchUp();
		} catch (error) {
			if (error instanceof ApiError && error.status === 403) live.canReadFeed = false;
		}
	}
	while (!signal.aborted && listeners.size > 0) {
		if (document.hidden) {
			await sleep(1000, signal);
			continue;
		}
		if (!live.canReadFeed) {
			await sleep(live.refreshSeconds * 1000, signal);
			if (!signal.aborted && !document.hidden) for (const l of listeners) l([]);
			continue;
		}
		try {
			const page = (
				await get<EventPage>('/api/v1/events', {
					query: { after: live.cursor, wait_s: WAIT_S, limit: 200 },
					signal
				})
			).data;
			live.cursor = page.next_cursor;
			live.error = '';
			if (page.items.length) for (const l of listeners) l(page.items);
		} catch (error) {
			if (signal.aborted) return;
			if (error instanceof ApiError && error.status === 410) {
				live.expired = true;
				live.cursor = await catchUp();
				continue;
			}
			live.error = error instanceof Error ? error.message : String(error);
			await sleep(live.refreshSeconds * 1000, signal);
		}
	}
}

/** Listen to live events until the returned function is called. */
export function listen(listener: Listener): () => void {
	listeners.add(listener);
	if (!loop) {
		abort = new AbortController();
		live.running = true;
		loop = run(abort.signal).finally(() => {
			loop = null;
			live.running = false;
		});
	}
	return () => {
		listeners.delete(listener);
		if (listeners.size === 0) abort?.abort();
	};
}
