// After `vite build`: move SvelteKit's inline boot script into a file (the console's
// Content-Security-Policy allows no inline script), then report the initial JavaScript
// (everything index.html loads before the first page renders), gzipped, in build/size.json.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const build = join(dirname(fileURLToPath(import.meta.url)), '..', 'build');
const indexPath = join(build, 'index.html');
let html = readFileSync(indexPath, 'utf8');

const inline = /<script>([\s\S]*?)<\/script>/g;
html = html.replace(inline, (_, code) => {
	const hash = createHash('sha256').update(code).digest('hex').slice(0, 12);
	const name = `_app/immutable/boot.${hash}.js`;
	writeFileSync(join(build, name), code);
	return `<script src="/${name}"></script>`;
});
if (/<script>/.test(html) || /\sstyle="/.test(html)) {
	throw new Error('index.html still has an inline script or style');
}
writeFileSync(indexPath, html);

const sources = [
	...html.matchAll(/<script src="([^"]+)"/g),
	...html.matchAll(/<link[^>]+rel="modulepreload"[^>]+href="([^"]+)"/g)
].map((m) => m[1]);
// The boot script imports the entry modules by path: count those too.
for (const src of [...sources]) {
	const code = readFileSync(join(build, src), 'utf8');
	for (const m of code.matchAll(/import\("([^"]+\.js)"\)/g)) sources.push(m[1]);
}
const files = [...new Set(sources.map((s) => s.replace(/^\//, '')))];
let raw = 0;
let gzip = 0;
for (const file of files) {
	const body = readFileSync(join(build, file));
	raw += body.length;
	gzip += gzipSync(body, { level: 9 }).length;
}
const report = { files, initial_js_bytes: raw, initial_js_gzip_bytes: gzip, budget_gzip_bytes: 200 * 1024 };
writeFileSync(join(build, 'size.json'), JSON.stringify(report, null, 2) + '\n');
console.log(`initial JavaScript: ${(gzip / 1024).toFixed(1)} KB gzipped (${(raw / 1024).toFixed(1)} KB raw, budget 200 KB) in ${files.length} file(s)`);
if (gzip > report.budget_gzip_bytes) {
	throw new Error('initial JavaScript over the 200 KB gzip budget');
}
