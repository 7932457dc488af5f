export function when(value: string | null | undefined): string {
	if (!value) return '—';
	const date = new Date(value);
	return date.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
}

export function age(seconds: number): string {
	if (seconds < 60) return `${Math.round(seconds)} s`;
	if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
	return `${(seconds / 3600).toFixed(1)} h`;
}

/** The trace id of a W3C traceparent (version-traceid-spanid-flags). */
export function traceId(traceparent: string | null | undefined): string | null {
	const parts = traceparent?.split('-');
	return parts && parts.length === 4 ? parts[1] : null;
}
