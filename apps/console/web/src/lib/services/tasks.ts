// Tasks API (task-service /api/v1/tasks).
import { ApiError, del, errorText, get, patch, post, type ApiResult } from './http';
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

/** The ETag of a task as listed (the API's ETag is its quoted version). */
export const etagOf = (task: Task) => `"${task.version}"`;

export interface BulkOutcome {
	status: SettableStatus;
	changed: number;
	failures: { task: Task; reason: string }[];
}

/** Set ``status`` on each task, each PATCH conditional on the version the user saw: a task
 * someone changed since is reported, never overwritten. */
export type SettableStatus = NonNullable<TaskUpdate['status']>;

export async function setStatuses(tasks: Task[], status: SettableStatus): Promise<BulkOutcome> {
	const outcome: BulkOutcome = { status, changed: 0, failures: [] };
	for (const task of tasks) {
		try {
			await updateTask(task.id, { status }, etagOf(task));
			outcome.changed += 1;
		} catch (e) {
			const conflict = e instanceof ApiError && e.status === 412;
			outcome.failures.push({
				task,
				reason: conflict ? 'changed by someone else since the list loaded (412)' : errorText(e)
			});
		}
	}
	return outcome;
}
