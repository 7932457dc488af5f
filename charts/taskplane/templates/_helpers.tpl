{{/* Umbrella-only helpers; the shared ones live in charts/common (library). */}}

{{/* Annotations for a resource that hook Jobs need: a hook itself when migrations run as hooks. */}}
{{- define "taskplane.umbrella.hookIfMigrationHooks" -}}
{{- if eq (include "taskplane.migrationsMode" .root) "hook" }}
{{- include "taskplane.hookAnnotations" (dict "hook" "pre-install,pre-upgrade" "weight" .weight "policy" "before-hook-creation") }}
{{- end }}
{{- end -}}

{{- define "taskplane.umbrella.validate" -}}
{{- $db := .Values.global.database -}}
{{- if and .Values.postgresql.enabled (eq .Values.global.environment "production") -}}
{{- fail "postgresql.enabled must be false when global.environment=production: set global.database.external.existingSecret to a Secret holding DATABASE_URL" -}}
{{- end -}}
{{- if and .Values.postgresql.enabled $db.external.existingSecret -}}
{{- fail "postgresql.enabled=true conflicts with global.database.external.existingSecret; set postgresql.enabled=false to use the external database" -}}
{{- end -}}
{{- if and (not .Values.postgresql.enabled) (not $db.external.existingSecret) -}}
{{- fail "global.database.external.existingSecret is required when postgresql.enabled=false (a Secret with key DATABASE_URL)" -}}
{{- end -}}
{{- if and (eq .Values.global.environment "production") (not $db.external.existingSecret) -}}
{{- fail "global.database.external.existingSecret is required when global.environment=production" -}}
{{- end -}}
{{- if and .Values.instrumentation.enabled (not .Values.global.tracing.enabled) -}}
{{- fail "instrumentation.enabled=true needs global.tracing.enabled=true" -}}
{{- end -}}
{{- $budget := include "taskplane.umbrella.connectionBudget" . | fromYaml -}}
{{- $max := int $db.maxConnections -}}
{{- if and (gt $max 0) (gt (int $budget.total) $max) -}}
{{- fail (printf "database connection budget exceeded: the components can open %d connections (%s), more than global.database.maxConnections=%d; lower databasePool.size/maxOverflow or autoscaling.maxReplicas, or raise the budget (RDS Proxy in front of the database multiplexes them)" (int $budget.total) (include "taskplane.umbrella.connectionBudget.summary" $budget) $max) -}}
{{- end -}}
{{- end -}}

{{/*
The worst case of database connections, as YAML: per component with a database
{perPod, pods, connections} and the total. perPod is its pool (databasePool.size +
maxOverflow), the queue's pool (databasePool.size again, with component.queuePool)
plus component.extraDatabaseConnections; pods its most pods at once: the
HPA's maxReplicas (replicaCount without one) plus a rolling update's surge
(strategy.rollingUpdate.maxSurge, Kubernetes' 25% rounded up when unset).
*/}}
{{- define "taskplane.umbrella.connectionBudget" -}}
{{- $components := dict -}}
{{- $total := 0 -}}
{{- range $name, $identity := .Values.components -}}
{{- $v := include "taskplane.component.values" (dict "root" $ "name" $name) | fromYaml -}}
{{- if and $v.enabled $v.component.database -}}
{{- $queuePool := ternary $v.databasePool.size 0 ($v.component.queuePool | default false) -}}
{{- $perPod := add $v.databasePool.size $v.databasePool.maxOverflow $queuePool ($v.component.extraDatabaseConnections | default 0) -}}
{{- $replicas := int (ternary $v.autoscaling.maxReplicas $v.replicaCount $v.autoscaling.enabled) -}}
{{- $surge := 0 -}}
{{- if eq $v.strategy.type "RollingUpdate" -}}
{{- $maxSurge := dig "rollingUpdate" "maxSurge" "25%" $v.strategy -}}
{{- if kindIs "string" $maxSurge -}}
{{- $surge = div (add (mul $replicas (trimSuffix "%" $maxSurge | int)) 99) 100 -}}
{{- else -}}
{{- $surge = int $maxSurge -}}
{{- end -}}
{{- end -}}
{{- $pods := add $replicas $surge -}}
{{- $connections := mul $perPod $pods -}}
{{- $_ := set $components $name (dict "perPod" $perPod "pods" $pods "connections" $connections) -}}
{{- $total = add $total $connections -}}
{{- end -}}
{{- end -}}
{{- toYaml (dict "components" $components "total" $total) -}}
{{- end -}}

{{/* "auth-service 20 x 8 = 160, ..." from a connection budget. */}}
{{- define "taskplane.umbrella.connectionBudget.summary" -}}
{{- $parts := list -}}
{{- range $name, $c := .components -}}
{{- $parts = append $parts (printf "%s %d x %d = %d" $name (int $c.perPod) (int $c.pods) (int $c.connections)) -}}
{{- end -}}
{{- join ", " $parts -}}
{{- end -}}
