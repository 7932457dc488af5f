// A page's error line (role="alert") and the one way its loads and changes fill it: a
// failed call shows there as "status: detail" and never escapes as an unhandled rejection.
import { errorText } from '$lib/services/http';

export class Feedback {
	error = $state('');
	readonly #reload: () => Promise<unknown>;

	/** ``reload`` re-reads the page after a change (see ``change``). */
	constructor(reload: () => Promise<unknown> = async () => {}) {
		this.#reload = reload;
	}

	/** Run ``work``; its failure's text becomes the error line. True when it succeeded. */
	async run(work: () => Promise<unknown>): Promise<boolean> {
		try {
			await work();
			return true;
		} catch (e) {
			this.error = errorText(e);
			return false;
		}
	}

	/** Make a change, then re-read the page so it shows the result. */
	change(work: () => Promise<unknown>): Promise<boolean> {
		return this.run(async () => {
			await work();
			await this.#reload();
		});
	}
}
