// Personal settings kept in localStorage: preferences only, never a token or anything
// else the session holds (the session lives in an HttpOnly cookie).
export const REFRESH_CHOICES = [0, 2, 5, 30] as const;
export type RefreshSeconds = (typeof REFRESH_CHOICES)[number];

const REFRESH_KEY = 'taskplane.refresh_s';
const DEFAULT_REFRESH: RefreshSeconds = 5;

function storedRefresh(): RefreshSeconds {
	const stored = typeof localStorage === 'undefined' ? null : localStorage.getItem(REFRESH_KEY);
	const value = Number(stored);
	return stored !== null && (REFRESH_CHOICES as readonly number[]).includes(value)
		? (value as RefreshSeconds)
		: DEFAULT_REFRESH;
}

/** How often live updates may reach the page, in seconds; 0 turns them off. */
export const settings = $state({ refreshSeconds: storedRefresh() });

export function saveRefresh(seconds: RefreshSeconds): void {
	settings.refreshSeconds = seconds;
	localStorage.setItem(REFRESH_KEY, String(seconds));
}
