// A single-page app: no server rendering, every page rendered in the browser.
export const ssr = false;
export const prerender = false;
