// The only module that calls fetch: same-origin calls to the console service, which adds
// the access token server-side. Unsafe methods carry the session's CSRF token.
import { goto } from '$app/navigation';

let csrfToken = '';

export function setCsrfToken(token: string): void {
	csrfToken = token;
}

export interface Problem {
	type?: string;
	title?: string;
	status?: number;
	detail?: string;
	[key: string]: unknown;
}

export class ApiError extends Error {
	constructor(
		readonly status: number,
		readonly problem: Problem
	) {
		super(problem.detail ?? problem.title ?? `HTTP ${status}`);
	}
}

export interface ApiResult<T> {
	data: T;
	status: number;
	etag: string | null;
	nextLink: string | null;
}

type Query = Record<string, string | number | boolean | string[] | null | undefined>;

export interface RequestOptions {
	query?: Query;
	body?: unknown;
	headers?: Record<string, string>;
	signal?: AbortSignal;
}

export function toSearch(query: Query | undefined): string {
	const params = new URLSearchParams();
	for (const [key, value] of Object.entries(query ?? {})) {
		if (value === null || value === undefined || value === '') continue;
		for (const item of Array.isArray(value) ? value : [value]) params.append(key, String(item));
	}
	const text = params.toString();
	return text ? `?${text}` : '';
}

function nextFromLink(link: string | null): string | null {
	const match = link?.match(/<([^>]+)>;\s*rel="next"/);
	return match ? match[1] : null;
}

export async function request<T>(
	method: string,
	path: string,
	options: RequestOptions = {}
): Promise<ApiResult<T>> {
	const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
	if (method !== 'GET') headers['x-csrf-token'] = csrfToken || 'login';
	let body: string | undefined;
	if (options.body !== undefined) {
		headers['content-type'] = 'application/json';
		body = JSON.stringify(options.body);
	}
	const response = await fetch(path + toSearch(options.query), {
		method,
		headers,
		body,
		credentials: 'same-origin',
		signal: options.signal
	});
	const text = await response.text();
	const data = text ? JSON.parse(text) : null;
	if (!response.ok) {
		if (response.status === 401 && path !== '/session' && location.pathname !== '/login') {
			const next = location.pathname + location.search;
			await goto(`/login?next=${encodeURIComponent(next)}`);
		}
		throw new ApiError(response.status, (data as Problem) ?? { status: response.status });
	}
	return {
		data: data as T,
		status: response.status,
		etag: response.headers.get('etag'),
		nextLink: nextFromLink(response.headers.get('link'))
	};
}

export const get = <T>(path: string, options?: RequestOptions) => request<T>('GET', path, options);
export const post = <T>(path: string, body?: unknown, options?: RequestOptions) =>
	request<T>('POST', path, { ...options, body });
export const put = <T>(path: string, body?: unknown, options?: RequestOptions) =>
	request<T>('PUT', path, { ...options, body });
export const patch = <T>(path: string, body?: unknown, options?: RequestOptions) =>
	request<T>('PATCH', path, { ...options, body });
export const del = <T>(path: string, options?: RequestOptions) =>
	request<T>('DELETE', path, options);

export function errorText(error: unknown): string {
	if (error instanceof ApiError) return `${error.status}: ${error.message}`;
	return error instanceof Error ? error.message : String(error);
}
