// Webhooks and their deliveries (notification-service /api/v1/webhooks).
import { get, post } from './http';
import type { Delivery, DeliveryPage, FeedEvent, Webhook } from './types';

export const listWebhooks = () => get<Webhook[]>('/api/v1/webhooks');

export const listDeliveries = (hook: string, query: Record<string, string | number> = {}) =>
	get<DeliveryPage>(`/api/v1/webhooks/${hook}/deliveries`, { query: { limit: 50, ...query } });

/** Queue a signed ``webhook.test`` delivery to the subscription (202 with the delivery). */
export const sendTestEvent = (hook: string) => post<Delivery>(`/api/v1/webhooks/${hook}/test`);

export interface CausedDelivery {
	hook: Webhook;
	delivery: Delivery;
}

/** The deliveries one event caused, over the subscriptions that take its type (the
 * deliveries list filtered by ``event_id``). */
export async function deliveriesOf(hooks: Webhook[], event: FeedEvent): Promise<CausedDelivery[]> {
	const subscribed = hooks.filter((hook) => hook.events.includes(event.type));
	const pages = await Promise.all(
		subscribed.map(async (hook) => ({
			hook,
			items: (await listDeliveries(hook.id, { event_id: event.id })).data.items
		}))
	);
	return pages.flatMap(({ hook, items }) =>
		items.filter((d) => d.event_id === event.id).map((delivery) => ({ hook, delivery }))
	);
}
