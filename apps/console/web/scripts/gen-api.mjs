// Regenerates src/lib/api/<service>.d.ts from the committed docs/api/<service>.openapi.json.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..', '..', '..');
const out = join(here, '..', 'src', 'lib', 'api');
mkdirSync(out, { recursive: true });
for (const service of ['auth-service', 'task-service', 'user-service', 'notification-service']) {
	execFileSync(
		process.execPath,
		[
			join(here, '..', 'node_modules', 'openapi-typescript', 'bin', 'cli.js'),
			join(repo, 'docs', 'api', `${service}.openapi.json`),
			'-o',
			join(out, `${service}.d.ts`)
		],
		{ stdio: 'inherit' }
	);
}
