// The queue configuration form: every QueueConfig number, an empty field meaning null
// (no limit, or "keep forever" for a retention) where the API allows null.
import type { QueueConfig } from '$lib/services/types';

type NumberField = Exclude<keyof QueueConfig, 'paused'>;

export interface ConfigField {
	name: NumberField;
	label: string;
	/** What an empty field means, for the fields that may be null. */
	nullable?: string;
}

export const CONFIG_FIELDS: ConfigField[] = [
	{ name: 'max_attempts', label: 'Max attempts' },
	{ name: 'visibility_timeout_s', label: 'Visibility timeout (s)' },
	{ name: 'backoff_base_s', label: 'Backoff base (s)' },
	{ name: 'backoff_max_s', label: 'Backoff max (s)' },
	{ name: 'max_in_flight', label: 'Max in flight', nullable: 'no limit' },
	{ name: 'rate_limit_per_s', label: 'Rate limit (per s)', nullable: 'no limit' },
	{ name: 'completed_retention_s', label: 'Keep completed (s)', nullable: 'forever' },
	{ name: 'dead_retention_s', label: 'Keep dead (s)', nullable: 'forever' },
	{ name: 'cancelled_retention_s', label: 'Keep cancelled (s)', nullable: 'forever' }
];

export type ConfigForm = Partial<Record<NumberField, number | null | undefined>>;

export function formFromConfig(config: QueueConfig): ConfigForm {
	const form: ConfigForm = {};
	for (const field of CONFIG_FIELDS) form[field.name] = config[field.name] ?? null;
	return form;
}

/** The PUT body's numbers: an emptied field is null (bind:value gives null for it). */
export function configFromForm(form: ConfigForm): Omit<QueueConfig, 'paused'> {
	const config: Record<string, number | null> = {};
	for (const field of CONFIG_FIELDS) {
		const value = form[field.name];
		config[field.name] = value === undefined || value === null || Number.isNaN(value) ? null : value;
	}
	return config as Omit<QueueConfig, 'paused'>;
}
