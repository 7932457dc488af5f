// Live updates: ONE long-poll loop on the event feed per tab, shared by every page that
// listens; paused while the tab is hidden, and no more often than the refresh setting
// (a poll starts at least that long after the previous one; "off" stops the loop).
// Users who may not read the feed get a plain refresh tick at that interval instead.
import { ApiError, get } from '$lib/services/http';
import type { EventPage, FeedEvent } from '$lib/services/types';
import { saveRefresh, settings, type RefreshSeconds } from '$lib/stores/settings.svelte';

type Listener = (events: FeedEvent[]) => void;

const START = '0-0';
const WAIT_S = 20;
/** After a failed poll, wait at least this long before the next one. */
const ERROR_BACKOFF_MS = 5000;

export const live = $state({
	running: false,
	expired: false,
	error: '',
	cursor: START,
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
		if (ms <= 0 || signal.aborted) return resolve();
		const timer = setTimeout(resolve, ms);
		signal.addEventListener('abort', () => {
			clearTimeout(timer);
			resolve();
		});
	});
}

function deliver(events: FeedEvent[]): void {
	for (const listener of listeners) listener(events);
}

/** One poll of the feed (or one tick for users without the feed). */
async function poll(signal: AbortSignal): Promise<void> {
	if (!live.canReadFeed) {
		deliver([]);
		return;
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
		if (page.items.length) deliver(page.items);
	} catch (error) {
		if (signal.aborted) return;
		if (error instanceof ApiError && error.status === 410) {
			live.expired = true;
			live.cursor = await catchUp();
			return;
		}
		live.error = error instanceof Error ? error.message : String(error);
		await sleep(ERROR_BACKOFF_MS, signal);
	}
}

async function run(signal: AbortSignal): Promise<void> {
	if (live.cursor === START && live.canReadFeed) {
		try {
			live.cursor = await catchUp();
		} catch (error) {
			if (error instanceof ApiError && error.status === 403) live.canReadFeed = false;
		}
	}
	while (!signal.aborted && listeners.size > 0 && settings.refreshSeconds > 0) {
		if (document.hidden) {
			await sleep(1000, signal);
			continue;
		}
		const started = Date.now();
		// Feed users get events as they happen, then wait out the interval; the others
		// get one tick per interval.
		if (live.canReadFeed) await poll(signal);
		await sleep(started + settings.refreshSeconds * 1000 - Date.now(), signal);
		if (!live.canReadFeed && !signal.aborted && !document.hidden) await poll(signal);
	}
}

function start(): void {
	if (loop || listeners.size === 0 || settings.refreshSeconds === 0) return;
	const controller = new AbortController();
	abort = controller;
	live.running = true;
	const current: Promise<void> = run(controller.signal).finally(() => {
		if (loop === current) {
			loop = null;
			live.running = false;
		}
	});
	loop = current;
}

function stop(): void {
	abort?.abort();
	abort = null;
	loop = null;
	live.running = false;
}

/** Listen to live events until the returned function is called. */
export function listen(listener: Listener): () => void {
	listeners.add(listener);
	start();
	return () => {
		listeners.delete(listener);
		if (listeners.size === 0) stop();
	};
}

/** A new refresh setting applies at once: the current wait ends, one loop restarts. */
export function setRefresh(seconds: RefreshSeconds): void {
	saveRefresh(seconds);
	stop();
	start();
}
