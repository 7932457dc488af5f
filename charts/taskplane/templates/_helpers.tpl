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
{{- end -}}
