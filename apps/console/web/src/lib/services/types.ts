// Names for the generated OpenAPI types (npm run gen:api writes src/lib/api/*.d.ts).
import type { components as Auth } from '$lib/api/auth-service';
import type { components as Notify } from '$lib/api/notification-service';
import type { components as TaskApi } from '$lib/api/task-service';

export type Task = TaskApi['schemas']['Task'];
export type TaskPage = TaskApi['schemas']['TaskPage'];
export type TaskCreate = TaskApi['schemas']['TaskCreate'];
export type TaskUpdate = TaskApi['schemas']['TaskUpdate'];
export type Queue = TaskApi['schemas']['Queue'];
export type QueueList = TaskApi['schemas']['QueueList'];
export type QueueConfig = TaskApi['schemas']['QueueConfig'];
export type QueuedTask = TaskApi['schemas']['QueuedTask'];
export type FeedEvent = TaskApi['schemas']['Event'];
export type EventPage = TaskApi['schemas']['EventPage'];
export type DeadLetterSelection = TaskApi['schemas']['DeadLetterSelection'];
export type DeadLetterCount = TaskApi['schemas']['DeadLetterCount'];
export type User = Auth['schemas']['UserOut'];
export type UserPage = Auth['schemas']['UserPage'];
export type ServiceToken = Auth['schemas']['ServiceToken'];
export type ServiceTokenCreated = Auth['schemas']['ServiceTokenCreated'];
export type WorkloadBinding = Auth['schemas']['WorkloadBinding'];
export type Webhook = Notify['schemas']['WebhookOut'];
export type Notification = Notify['schemas']['NotificationOut'];

export interface SessionInfo {
	user_id: string | null;
	email: string | null;
	name: string | null;
	roles: string[];
	is_admin: boolean;
	can_write: boolean;
	csrf_token: string;
	jaeger_url: string | null;
}
export type WebhookWithSecret = Notify['schemas']['WebhookWithSecret'];
export type Delivery = Notify['schemas']['DeliveryOut'];
export type DeliveryPage = Notify['schemas']['DeliveryPage'];
export type NotificationPage = Notify['schemas']['NotificationPage'];
export type UnreadCount = Notify['schemas']['UnreadCount'];
