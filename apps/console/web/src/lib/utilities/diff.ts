// What changed between the task the user started editing and the one on the server.
export interface FieldChange {
	field: string;
	base: unknown;
	theirs: unknown;
	mine: unknown;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** Fields someone else changed since ``base``, with the value the user wants for each. */
export function conflicts(
	base: Record<string, unknown>,
	theirs: Record<string, unknown>,
	mine: Record<string, unknown>
): FieldChange[] {
	const fields = new Set([...Object.keys(mine), ...Object.keys(base)]);
	const out: FieldChange[] = [];
	for (const field of fields) {
		if (['version', 'updated_at', 'created_at', 'id', 'owner_id', 'queue'].includes(field)) continue;
		if (!same(base[field], theirs[field])) {
			out.push({ field, base: base[field], theirs: theirs[field], mine: mine[field] ?? base[field] });
		}
	}
	return out;
}

/** Only the fields the user actually changed (a PATCH body). */
export function changedFields(
	base: Record<string, unknown>,
	edited: Record<string, unknown>
): Record<string, unknown> {
	const out: Record<string, unknown> = {};
	for (const [field, value] of Object.entries(edited)) if (!same(base[field], value)) out[field] = value;
	return out;
}

export function show(value: unknown): string {
	if (value === null || value === undefined || value === '') return '—';
	return Array.isArray(value) ? value.join(', ') : String(value);
}
