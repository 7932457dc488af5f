// Who is signed in (from GET /session). The CSRF token goes to the http module only.
import { ApiError, get, post, request, setCsrfToken } from '$lib/services/http';
import type { SessionInfo } from '$lib/services/types';

export const session = $state({ info: null as SessionInfo | null, loaded: false });

function remember(info: SessionInfo | null): void {
	session.info = info;
	session.loaded = true;
	setCsrfToken(info?.csrf_token ?? '');
}

export async function loadSession(): Promise<SessionInfo | null> {
	try {
		remember((await get<SessionInfo>('/session')).data);
	} catch (error) {
		if (!(error instanceof ApiError) || error.status !== 401) throw error;
		remember(null);
	}
	return session.info;
}

export async function signIn(email: string, password: string): Promise<void> {
	remember((await post<SessionInfo>('/session', { email, password })).data);
}

export async function signOut(): Promise<void> {
	try {
		await request('DELETE', '/session');
	} finally {
		remember(null);
	}
}
