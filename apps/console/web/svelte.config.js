import adapter from '@sveltejs/adapter-static';

/** @type {import('@sveltejs/kit').Config} */
const config = {
	kit: {
		// A single-page app: index.html answers every path (the console service falls back to it).
		adapter: adapter({ fallback: 'index.html', strict: false }),
		// Absolute asset paths, so the boot script works from any route.
		paths: { relative: false },
		output: { bundleStrategy: 'single' }
	}
};

export default config;
