// Tasks API (task-service /api/v1/tasks).
import { del, get, patch, post, type ApiResult } from './http';
import type { Task, TaskCreate, TaskPage, TaskUpdate } from './types';

export const STATUSES = ['pending', 'scheduled', 'in_progress', 'retrying', 'completed', 'dead', 'cancelled'] as const;
export const SETTABLE = ['pending', 'in_progress', 'completed', 'cancelled'] as const;
export const PRIORITIES = ['low', 'medium', 'high', 'critical'] as const;
export const SORTS = ['-created_at', 'created_at', '-updated_at', 'updated_at', 'due_at', '-due_at', '-priority', 'priority'] as const;
/** The list filters the API has; each lives in the page URL under the same name. */
export const FILTERS = ['status', 'priority', 'tag', 'assignee', 'q', 'sort', 'cursor', 'limit'] as const;

export function queryFromUrl(params: URLSearchParams): Record<string, string[] | string> {
	const query: Record<string, string[] | string> = {};
	for (const name of FILTERS) {
		const values = params.getAll(name).filter(Boolean);
		if (values.length) query[name] = ['status', 'priority', 'tag'].includes(name) ? values : values[0];
	}
	return query;
}

export const listTasks = (query: Record<string, string[] | string>) =>
	get<TaskPage>('/api/v1/tasks', { query });
export const getTask = (id: string) => get<Task>(`/api/v1/tasks/${id}`);
export const createTask = (body: TaskCreate) => post<Task>('/api/v1/tasks', body);
export const updateTask = (id: string, body: TaskUpdate, etag: string): Promise<ApiResult<Task>> =>
	patch<Task>(`/api/v1/tasks/${id}`, body, { headers: { 'if-match': etag } });
export const deleteTask = (id: string, etag: string) =>
	del<null>(`/api/v1/tasks/${id}`, { headers: { 'if-match': etag } });
